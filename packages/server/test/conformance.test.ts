/** The same scenarios against every adapter: node:http, Express and Fastify. */
import { createServer } from 'node:http'
import { createMesh, type Mesh } from '@weft/client'
import { currentCall } from '@weft/core'
import express from 'express'
import Fastify from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import { rawStatus, serve, type Upstream } from '../../../test/support/servers.js'
import { weftExpress, weftFastify, weftHandler } from '../src/index.js'

type Seen = { service?: string | undefined; remaining?: number; traceId?: string | undefined; body?: unknown }

interface Adapter {
  name: string
  /** Starts a server whose GET /who and POST /echo record what currentCall() says. */
  start(mesh: Mesh, seen: Seen[]): Promise<Upstream>
}

const record = (seen: Seen[], body?: unknown) => {
  const c = currentCall()
  seen.push({ service: c?.service, remaining: c?.remainingMs(), traceId: c?.traceId, body })
}

const adapters: Adapter[] = [
  {
    name: 'node:http',
    start: (mesh, seen) =>
      serve(
        createServer(
          weftHandler(mesh, (req, res) => {
            if (req.method === 'POST') {
              let body = ''
              req.on('data', (c) => (body += c))
              req.on('end', () => {
                record(seen, JSON.parse(body))
                res.end('posted')
              })
              return
            }
            record(seen)
            res.statusCode = req.url === '/teapot' ? 418 : 200
            res.end('who')
          }),
        ),
      ),
  },
  {
    name: 'Express',
    start: (mesh, seen) => {
      const app = express()
      app.use(weftExpress(mesh))
      app.use(express.json())
      app.get('/who', (_req, res) => {
        record(seen)
        res.send('who')
      })
      app.get('/teapot', (_req, res) => {
        record(seen)
        res.status(418).send('teapot')
      })
      app.post('/echo', (req, res) => {
        record(seen, req.body)
        res.send('posted')
      })
      return serve(createServer(app))
    },
  },
  {
    name: 'Fastify',
    start: async (mesh, seen) => {
      let server: ReturnType<typeof createServer> | undefined
      const app = Fastify({
        serverFactory: (handler) => {
          server = createServer(handler)
          return server
        },
      })
      await app.register(weftFastify, { mesh })
      app.get('/who', async () => {
        record(seen)
        return 'who'
      })
      app.get('/teapot', async (_req, reply) => {
        record(seen)
        return reply.code(418).send('teapot')
      })
      app.post('/echo', async (req) => {
        record(seen, req.body)
        return 'posted'
      })
      await app.ready()
      return serve(server as ReturnType<typeof createServer>)
    },
  },
]

async function started(adapter: Adapter, services: Record<string, unknown> = {}) {
  const mesh = await createMesh({ service: 'inventory', policy: { apiVersion: 'weft.dev/v1', services } })
  const seen: Seen[] = []
  const up = await adapter.start(mesh, seen)
  onTestFinished(async () => {
    await up.close()
    await mesh.close()
  })
  return { mesh, seen, up }
}

describe.each(adapters)('$name adapter', (adapter) => {
  it("gives the handler currentCall() with this mesh's service", async () => {
    const { seen, up } = await started(adapter)

    const res = await fetch(`${up.url}/who`)

    expect(await res.text()).toBe('who')
    expect(seen).toHaveLength(1)
    expect(seen[0]?.service).toBe('inventory')
  })

  it('keeps currentCall() through request-body parsing', async () => {
    const { seen, up } = await started(adapter)

    const res = await fetch(`${up.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 1 }),
    })

    expect(await res.text()).toBe('posted')
    expect(seen[0]).toMatchObject({ service: 'inventory', body: { n: 1 } })
  })

  it("passes the application's own status through", async () => {
    const { up } = await started(adapter)

    const res = await fetch(`${up.url}/teapot`)

    expect(res.status).toBe(418)
    await res.text()
  })

  it('serves concurrent requests, each with its own call', async () => {
    const { seen, up } = await started(adapter)

    const statuses = await Promise.all(
      Array.from({ length: 25 }, () =>
        fetch(`${up.url}/who`).then(async (r) => {
          await r.text()
          return r.status
        }),
      ),
    )

    expect(statuses.every((s) => s === 200)).toBe(true)
    expect(seen).toHaveLength(25)
    expect(seen.every((s) => s.service === 'inventory')).toBe(true)
  })

  it.each(['http://inventory/who', 'http://inventory:80/public/../who?x=1', 'HTTP://inventory/who'])(
    'authorizes an absolute-form request (GET %s) by its path: a DENY on /who refuses it',
    async (target) => {
      const { seen, up } = await started(adapter, { inventory: { authorization: [{ action: 'DENY', to: { paths: ['/who'] } }] } })

      const status = await rawStatus(up.port, 'GET', target)

      expect(status).toBe(403)
      expect(seen).toHaveLength(0)
    },
  )

  it.each(['/WHO', '/Who', '/who/'])('a DENY on /who also refuses %s, which Express would route to /who', async (path) => {
    const { seen, up } = await started(adapter, { inventory: { authorization: [{ action: 'DENY', to: { paths: ['/who'] } }] } })

    const res = await fetch(`${up.url}${path}`)

    expect(res.status).toBe(403)
    await res.text()
    expect(seen).toHaveLength(0)
  })

  it('a DENY on GET /who also refuses HEAD /who, which Express and Fastify would answer with the GET handler', async () => {
    const { seen, up } = await started(adapter, {
      inventory: { authorization: [{ action: 'DENY', to: { methods: ['GET'], paths: ['/who'] } }] },
    })

    const res = await fetch(`${up.url}/who`, { method: 'HEAD' })

    expect(res.status).toBe(403)
    expect(seen).toHaveLength(0)
  })

  it('has no current call outside a request', async () => {
    await started(adapter)
    expect(currentCall()).toBeUndefined()
  })
})

describe('Express adapter under a mount', () => {
  it('authorizes by the whole path: mounted at /api, a DENY on /api/who refuses /api/who', async () => {
    const mesh = await createMesh({
      service: 'inventory',
      policy: { apiVersion: 'weft.dev/v1', services: { inventory: { authorization: [{ action: 'DENY', to: { paths: ['/api/who'] } }] } } },
    })
    const served: string[] = []
    const app = express()
    app.use('/api', weftExpress(mesh), (req, res) => {
      served.push(req.url)
      res.send('who')
    })
    const up = await serve(createServer(app))
    onTestFinished(async () => {
      await up.close()
      await mesh.close()
    })

    const denied = await fetch(`${up.url}/api/who`)
    const allowed = await fetch(`${up.url}/api/other`)

    expect([denied.status, allowed.status]).toEqual([403, 200])
    expect(served).toEqual(['/other'])
  })
})

describe.each(adapters.filter((a) => a.name === 'node:http'))('$name adapter, cancellation', () => {
  it("fires the handler's signal when the client goes away before the response is finished", async () => {
    const mesh = await createMesh({ service: 'inventory', policy: { apiVersion: 'weft.dev/v1', services: {} } })
    let fired: unknown
    let started: () => void = () => {}
    const inHandler = new Promise<void>((r) => {
      started = r
    })
    const up = await serve(
      createServer(
        weftHandler(mesh, () => {
          const signal = currentCall()?.signal
          signal?.addEventListener('abort', () => {
            fired = signal.reason
          })
          started()
        }),
      ),
    )
    onTestFinished(async () => {
      await up.close()
      await mesh.close()
    })
    const ac = new AbortController()

    const pending = fetch(`${up.url}/hang`, { signal: ac.signal }).catch(() => undefined)
    await inHandler
    ac.abort()
    await pending
    await new Promise((r) => setTimeout(r, 50))

    expect((fired as Error | undefined)?.name).toBe('AbortError')
  })
})
