/**
 * No spelling of a denied path reaches its handler. Express and Fastify route more spellings of
 * `/admin` to `app.get('/admin')` than the bare string (other cases, a trailing slash, dot segments,
 * percent-encoding, an absolute-form target, HEAD for GET); a DENY rule must refuse every one that
 * would run the handler. A property test on raw sockets against real apps, seeded so a failure
 * repeats.
 */
import { createServer } from 'node:http'
import { createMesh, type Mesh } from '@weft/client'
import express from 'express'
import fc from 'fast-check'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawStatus, serve } from '../../../test/support/servers.js'
import { weftExpress, weftFastify } from '../src/index.js'

/** `admin`, each letter in either case or, now and then, percent-encoded (upper- or lower-case hex). */
const letters = fc
  .tuple(
    ...[...'admin'].map((c) => {
      const hex = c.charCodeAt(0).toString(16)
      return fc.oneof(
        { arbitrary: fc.constantFrom(c, c.toUpperCase()), weight: 8 },
        { arbitrary: fc.constantFrom(`%${hex}`, `%${hex.toUpperCase()}`), weight: 1 },
      )
    }),
  )
  .map((cs) => cs.join(''))
/** Mostly the first value, now and then one of the others. */
const mostly = <T>(first: T, ...others: T[]) =>
  fc.oneof({ arbitrary: fc.constant(first), weight: 2 }, { arbitrary: fc.constantFrom(...others), weight: 1 })
const target = fc
  .record({
    origin: mostly('', 'http://inventory', 'HTTP://inventory:80'),
    before: mostly('/', '//', '/./', '/public/../', '/x/%2e%2e/', '/%2E/'),
    name: letters,
    after: mostly('', '/', '?x=1', '/?x=1', '#top', '//'),
    method: fc.constantFrom('GET', 'HEAD'),
  })
  .map(({ origin, before, name, after, method }) => ({ method, target: `${origin}${before}${name}${after}` }))

interface App {
  port: number
  ran: () => number
  close: () => Promise<void>
}

/** The app of `framework` with `app.get('/admin')`, behind a mesh whose own service has `rules`. */
async function start(framework: 'Express' | 'Fastify', rules: unknown[]): Promise<App & { mesh: Mesh }> {
  const mesh = await createMesh({
    service: 'inventory',
    policy: { apiVersion: 'weft.dev/v1', services: { inventory: { authorization: rules } } },
  })
  let ran = 0
  if (framework === 'Express') {
    const app = express()
    app.use(weftExpress(mesh))
    app.get('/admin', (_req, res) => {
      ran++
      res.send('admin')
    })
    const up = await serve(createServer(app))
    return { mesh, port: up.port, ran: () => ran, close: () => up.close().then(() => mesh.close()) }
  }
  const f = Fastify()
  await f.register(weftFastify, { mesh })
  f.get('/admin', async () => {
    ran++
    return 'admin'
  })
  await f.listen({ port: 0, host: '127.0.0.1' })
  return { mesh, port: (f.server.address() as { port: number }).port, ran: () => ran, close: () => f.close().then(() => mesh.close()) }
}

const RUNS = { numRuns: 300, seed: 20261204 }
const FRAMEWORKS = ['Express', 'Fastify'] as const
const denied: Partial<Record<(typeof FRAMEWORKS)[number], App>> = {}
const open: Partial<Record<(typeof FRAMEWORKS)[number], App>> = {}

beforeAll(async () => {
  for (const name of FRAMEWORKS) {
    denied[name] = await start(name, [{ action: 'DENY', to: { methods: ['GET'], paths: ['/admin'] } }])
    open[name] = await start(name, [])
  }
})

afterAll(async () => {
  await Promise.all([...Object.values(denied), ...Object.values(open)].map((a) => a.close()))
})

describe('a DENY on GET /admin', () => {
  it.each(FRAMEWORKS)('lets no spelling of it reach the %s handler', async (name) => {
    const app = denied[name] as App
    await fc.assert(
      fc.asyncProperty(target, async ({ method, target: path }) => {
        const before = app.ran()
        const status = await rawStatus(app.port, method, path)
        expect(app.ran()).toBe(before)
        expect(status).not.toBe(200)
      }),
      RUNS,
    )
  })

  it.each(FRAMEWORKS)('is tested with spellings %s itself routes to the handler: without the rule, many run it', async (name) => {
    const app = open[name] as App
    for (const { method, target: path } of fc.sample(target, RUNS)) await rawStatus(app.port, method, path)
    // the generated spellings are not all noise: some reach app.get('/admin') (Express, routing
    // case-insensitively and without strict slashes, takes far more of them than Fastify)
    expect(app.ran()).toBeGreaterThanOrEqual(5)
  })
})
