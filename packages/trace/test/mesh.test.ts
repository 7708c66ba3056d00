import { createServer, request } from 'node:http'
import { createMesh, type Mesh } from '@weft/client'
import { currentCall } from '@weft/core'
import { weftHandler } from '@weft/server'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, policyFor, serve } from '../../../test/support/servers.js'

const TRACE = '0af7651916cd43dd8448eb211c80319c'
const PARENT = 'b7ad6b7169203331'

/**
 * A → B → C: A and B are weft services whose handlers call the next hop with `mesh.fetch` and no
 * header code at all; C records what reached it. A's own outbound call to B is recorded too.
 */
async function chain() {
  const c = await listen((_req, res) => res.end('c'))
  let meshB: Mesh | undefined
  const b = await serve(
    createServer((req, res) =>
      weftHandler(meshB as Mesh, async () => {
        const answer = await (meshB as Mesh).fetch('http://c/work')
        res.end(await answer.text())
      })(req, res),
    ),
  )
  const bSeen: Record<string, string | string[] | undefined>[] = []
  let meshA: Mesh | undefined
  let seenInA: { traceId?: string; spanId?: string } = {}
  const a = await serve(
    createServer((req, res) =>
      weftHandler(meshA as Mesh, async () => {
        seenInA = { traceId: currentCall()?.traceId, spanId: currentCall()?.spanId }
        const answer = await (meshA as Mesh).fetch('http://b/step')
        res.end(await answer.text())
      })(req, res),
    ),
  )
  b.server.prependListener('request', (req) => bSeen.push(req.headers))
  meshB = await createMesh({ service: 'b', policy: policyFor({ c }) })
  meshA = await createMesh({ service: 'a', policy: policyFor({ b }) })
  onTestFinished(async () => {
    await Promise.all([meshA?.close(), meshB?.close()])
    await Promise.all([a.close(), b.close(), c.close()])
  })
  return { a, b, c, bSeen, seenInA: () => seenInA }
}

/** A request to `url` with exactly these headers (fetch refuses hop-by-hop ones); answers the status. */
function sendRaw(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/start`, { headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode as number))
    })
    req.on('error', reject)
    req.end()
  })
}

const traceparentOf = (h: Record<string, string | string[] | undefined> | undefined) =>
  /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(String(h?.traceparent)) as RegExpExecArray

describe('trace context through the mesh, with no header code in the services', () => {
  it('a valid traceparent reaches the next hop with the same trace id and a new parent id', async () => {
    const { a, bSeen, seenInA } = await chain()
    const res = await fetch(`${a.url}/start`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })
    expect(await res.text()).toBe('c')

    const [, traceId, parentId, flags] = traceparentOf(bSeen[0])
    expect(traceId).toBe(TRACE)
    expect(parentId).not.toBe(PARENT)
    expect(parentId).not.toBe(seenInA().spanId)
    expect(flags).toBe('01')
    expect(seenInA().traceId).toBe(TRACE)
  })

  it('reaches two hops away under the same trace', async () => {
    const { a, c } = await chain()
    await fetch(`${a.url}/start`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })
    expect(traceparentOf(c.requests[0]?.headers)[1]).toBe(TRACE)
  })

  it.each([
    ['garbage', 'not-a-traceparent'],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['an all-zero trace id', `00-00000000000000000000000000000000-${PARENT}-01`],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
  ])('an invalid traceparent (%s) is replaced by a valid fresh one, and the request is served', async (_, value) => {
    const { a, bSeen, c } = await chain()
    const res = await fetch(`${a.url}/start`, { headers: { traceparent: value, tracestate: 'vendor=1' } })
    expect(res.status).toBe(200)
    const [, traceId] = traceparentOf(bSeen[0])
    expect(traceId).not.toBe(TRACE)
    expect(traceId).not.toBe('00000000000000000000000000000000')
    expect(bSeen[0]?.tracestate).toBeUndefined()
    expect(traceparentOf(c.requests[0]?.headers)[1]).toBe(traceId)
  })

  it('baggage and tracestate survive two hops', async () => {
    const { a, c } = await chain()
    await fetch(`${a.url}/start`, {
      headers: {
        traceparent: `00-${TRACE}-${PARENT}-01`,
        tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
        baggage: 'userId=alice,tier=gold;ttl=60',
      },
    })
    expect(c.requests[0]?.headers.baggage).toBe('userId=alice,tier=gold;ttl=60')
    expect(c.requests[0]?.headers.tracestate).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')
  })

  it('hop-by-hop headers the caller sent never reach the next hop', async () => {
    const { a, bSeen } = await chain()
    const status = await sendRaw(a.url, {
      traceparent: `00-${TRACE}-${PARENT}-01`,
      connection: 'keep-alive, x-hop',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      upgrade: 'h2c',
      'proxy-authorization': 'Basic cHJveHk6cHJveHk=',
      'proxy-connection': 'keep-alive',
      'x-hop': 'named by connection',
      'transfer-encoding': 'chunked',
    })
    expect(status).toBe(200)
    const seen = bSeen[0] ?? {}
    for (const name of ['keep-alive', 'te', 'upgrade', 'proxy-authorization', 'proxy-connection', 'x-hop', 'transfer-encoding'])
      expect(seen[name]).toBeUndefined()
    expect(String(seen.connection ?? '')).not.toContain('x-hop')
    expect(traceparentOf(seen)[1]).toBe(TRACE)
  })

  it("the caller's authorization and cookie are never copied to the next hop", async () => {
    const { a, bSeen } = await chain()
    const status = await sendRaw(a.url, { authorization: 'Bearer secret-token', cookie: 'session=abc123' })
    expect(status).toBe(200)
    expect(bSeen[0]?.authorization).toBeUndefined()
    expect(bSeen[0]?.cookie).toBeUndefined()
  })

  it('identity-looking headers the caller sent (x-forwarded-client-cert, x-weft-peer-*) never reach the next hop', async () => {
    const { a, bSeen } = await chain()
    const status = await sendRaw(a.url, {
      'x-forwarded-client-cert': 'By=spiffe://weft.local/ns/default/sa/b;URI=spiffe://weft.local/ns/default/sa/admin',
      'x-weft-peer-identity': 'spiffe://weft.local/ns/default/sa/admin',
      'x-weft-peer-trust-domain': 'weft.local',
    })
    expect(status).toBe(200)
    const names = Object.keys(bSeen[0] ?? {})
    expect(names.filter((n) => n === 'x-forwarded-client-cert' || n.startsWith('x-weft-peer-'))).toEqual([])
  })

  it('a garbage x-weft-attempt from the caller is not passed on: the next hop sees the attempt number of its own call', async () => {
    const { a, bSeen, c } = await chain()
    const status = await sendRaw(a.url, { 'x-weft-attempt': '99; rm -rf /' })
    expect(status).toBe(200)
    expect(bSeen[0]?.['x-weft-attempt']).toBe('1')
    expect(c.requests[0]?.headers['x-weft-attempt']).toBe('1')
  })

  it.each(['tracestate', 'baggage'])('a %s between 8 and 16 KiB is dropped, and the request is served', async (name) => {
    const { a, bSeen } = await chain()
    const res = await fetch(`${a.url}/start`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, [name]: `k=${'v'.repeat(9000)}` } })
    expect(res.status).toBe(200)
    expect(bSeen[0]?.[name]).toBeUndefined()
    expect(traceparentOf(bSeen[0])[1]).toBe(TRACE)
  })

  it("past Node's 16 KiB header limit, Node itself answers 431 and the service never runs", async () => {
    const { a, bSeen } = await chain()
    const res = await fetch(`${a.url}/start`, { headers: { tracestate: `k=${'v'.repeat(17 * 1024)}` } })
    expect(res.status).toBe(431)
    expect(bSeen).toHaveLength(0)
  })

  it('a call with no inbound request behind it starts a trace of its own', async () => {
    const { a, bSeen } = await chain()
    await fetch(`${a.url}/start`)
    const [, traceId, , flags] = traceparentOf(bSeen[0])
    expect(traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(flags).toBe('03') // sampled, and random (Trace Context Level 2): weft's ids are random
  })
})
