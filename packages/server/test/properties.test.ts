/**
 * Whatever trace and deadline headers a caller sends, a weft service answers (never a 500), and
 * what it passes on to the next hop is well-formed: a valid traceparent, digits-only deadline
 * headers within what the caller allowed. A property test over real servers on loopback, seeded,
 * so a failure repeats (BAD-INPUT: "never throw from a header parser into the request path").
 */
import { createServer } from 'node:http'
import { createMesh, type Mesh } from '@weft/client'
import fc from 'fast-check'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nearly } from '../../../test/support/properties.js'
import { listen, policyFor, serve, type Upstream } from '../../../test/support/servers.js'
import { weftHandler } from '../src/index.js'

const VALID = {
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
  baggage: 'userId=alice,tier=gold;ttl=60',
  'x-weft-timeout': '1500',
  'grpc-timeout': '2S',
  'x-envoy-expected-rq-timeout-ms': '3000',
  'x-weft-attempt': '2',
  b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1',
}

// what a header value may hold on the wire (undici refuses CR, LF and NUL before sending)
const wireChar = fc.oneof(
  fc.constantFrom('\t', ' ', '-', '=', ',', ';', '0', '9', 'a', 'f', 'A', '@'),
  fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
)
/** A header's valid value, edited, or any string that may go on the wire. */
const near = (valid: string) => nearly(valid, wireChar, fc.string({ unit: wireChar, maxLength: 70 }))
const headers = fc.record(
  Object.fromEntries(Object.entries(VALID).map(([name, valid]) => [name, near(valid)])) as Record<string, fc.Arbitrary<string>>,
  {
    requiredKeys: [],
  },
)

let mesh: Mesh
let next: Upstream
let service: Upstream

beforeAll(async () => {
  next = await listen((_req, res) => res.end('next'))
  mesh = await createMesh({ service: 'front', policy: policyFor({ next }) })
  // the service calls the next hop through the mesh while serving: inbound context flows outbound
  service = await serve(
    createServer(
      weftHandler(mesh, async (_req, res) => {
        const answer = await mesh.fetch('http://next/work')
        res.end(await answer.text())
      }),
    ),
  )
})
afterAll(async () => {
  await mesh.close()
  await Promise.all([service.close(), next.close()])
})

describe('garbage trace and deadline headers, through a real service', () => {
  it('are answered, never with a 500, and the next hop sees only well-formed context', async () => {
    await fc.assert(
      fc.asyncProperty(headers, async (sent) => {
        const before = next.requests.length
        const res = await request(`${service.url}/start`, { headers: sent })
        const body = await res.body.text()
        // 504: a deadline header that was valid and already spent (x-weft-timeout: 0) is shed
        expect([200, 504]).toContain(res.statusCode)
        if (res.statusCode !== 200) return
        expect(body).toBe('next')
        const seen = next.requests[before]?.headers ?? {}
        expect(seen.traceparent).toMatch(/^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-0[0-3]$/)
        for (const name of ['x-weft-timeout', 'x-envoy-expected-rq-timeout-ms'])
          if (seen[name] !== undefined) expect(seen[name]).toMatch(/^[0-9]{1,10}$/)
        if (seen['grpc-timeout'] !== undefined) expect(seen['grpc-timeout']).toMatch(/^[0-9]{1,8}[HMSmun]$/)
        // the next hop's budget is never more than the caller's own valid x-weft-timeout allowed
        const allowed = /^[0-9]{1,10}$/.test(sent['x-weft-timeout'] ?? '') ? Number(sent['x-weft-timeout']) : Number.POSITIVE_INFINITY
        if (seen['x-weft-timeout'] !== undefined) expect(Number(seen['x-weft-timeout'])).toBeLessThanOrEqual(allowed)
      }),
      { numRuns: 300, seed: 20261204 },
    )
  })
})
