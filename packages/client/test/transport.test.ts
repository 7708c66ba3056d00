/**
 * The transport's pools, against real node:http servers on loopback: one undici Pool per endpoint,
 * kept while it has connections or calls, dropped once its last connection has closed, and capped
 * by the service's connectionPool.maxConnections.
 */
import type { Endpoint, Reply } from '@weft/core'
import { testCall } from '@weft/core/testing'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, policyFor, type Upstream } from '../../../test/support/servers.js'
import { createMesh, type Mesh } from '../src/index.js'
import { Transport } from '../src/transport.js'

function endpointOf(up: Upstream): Endpoint {
  return { address: up.address, host: '127.0.0.1', port: up.port, labels: {}, weight: 1 }
}

function transport(): Transport {
  const t = new Transport()
  onTestFinished(() => t.destroy())
  return t
}

/** Sends one call to `up` and reads its reply body to the end. */
async function send(t: Transport, up: Upstream, path = '/'): Promise<number> {
  const reply: Reply = await t.handler(testCall({ endpoint: endpointOf(up), path, authority: 'payments' }))
  await new Promise<void>(
    (resolve, reject) => reply.body?.pipe({ onData: () => true, onEnd: () => resolve(), onError: reject }) ?? resolve(),
  )
  return reply.status
}

/** Resolves once `check` holds, polling on the event loop (the pools react to socket events). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
  expect(check()).toBe(true)
}

/** An upstream that counts its connections and the most requests it held at once; answers each on the next turn. */
async function counted(): Promise<{ up: Upstream; connections: () => number; mostAtOnce: () => number; reset: () => void }> {
  let connections = 0
  let now = 0
  let most = 0
  const up = await listen(async (_req, res) => {
    most = Math.max(most, ++now)
    await new Promise((r) => setImmediate(r))
    now--
    res.end('ok')
  })
  up.server.on('connection', () => connections++)
  onTestFinished(() => up.close())
  return {
    up,
    connections: () => connections,
    mostAtOnce: () => most,
    reset: () => {
      most = 0
    },
  }
}

async function burst(mesh: Mesh, n: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await request('http://payments/', { dispatcher: mesh.dispatcher })
      await res.body.dump()
      return res.statusCode
    }),
  )
}

describe('the transport’s pools', () => {
  it('reuses one pool per endpoint for every call while its connections stay open', async () => {
    const a = await counted()
    const b = await counted()
    const t = transport()

    for (let i = 0; i < 5; i++) expect(await send(t, i % 2 === 0 ? a.up : b.up)).toBe(200)

    expect(t.addresses().sort()).toEqual([a.up.address, b.up.address].sort())
    // a pool made afresh for a call would have opened a connection of its own
    expect([a.connections(), b.connections()]).toEqual([1, 1])
  })

  it('drops the pool of an endpoint whose last connection closed, so endpoints that come and go leave nothing behind', async () => {
    const t = transport()
    for (let i = 0; i < 20; i++) {
      const gone = await listen()
      expect(await send(t, gone)).toBe(200)
      await gone.close()
    }

    await until(() => t.addresses().length === 0)
  })

  it('opens a new pool when a dropped endpoint is called again', async () => {
    const up = await listen()
    onTestFinished(() => up.close())
    const t = transport()
    await send(t, up)
    // the upstream closes its idle connections (a restart, its keep-alive timeout): the pool goes
    up.server.closeIdleConnections()
    await until(() => t.addresses().length === 0)

    expect(await send(t, up)).toBe(200)
    expect(t.addresses()).toEqual([up.address])
  })

  it('keeps a pool whose connection closed while another call is still in flight on it', async () => {
    let release: () => void = () => {}
    const held = new Promise<void>((r) => {
      release = r
    })
    const up = await listen(async (req, res) => {
      if (req.url === '/drop') return req.socket.destroy()
      await held
      res.end('late')
    })
    onTestFinished(() => up.close())
    const t = transport()

    const slow = send(t, up, '/slow')
    await until(() => up.requests.length === 1)
    await expect(send(t, up, '/drop')).rejects.toMatchObject({ code: 'WEFT_UPSTREAM_FAILURE' })
    // the dropped connection's disconnect has reached the pool by the next turn of the loop
    await new Promise((r) => setImmediate(r))

    expect(t.addresses()).toEqual([up.address])
    release()
    expect(await slow).toBe(200)
  })
})

describe('connectionPool.maxConnections', () => {
  it('caps the connections to each endpoint: 20 calls at once share 4 connections, and every one succeeds', async () => {
    const { up, connections, mostAtOnce } = await counted()
    const mesh = await createMesh({
      service: 'checkout',
      policy: policyFor({ payments: up }, { payments: { connectionPool: { maxConnections: 4 } } }),
    })
    onTestFinished(() => mesh.close())

    const statuses = await burst(mesh, 20)

    expect(statuses).toEqual(Array(20).fill(200))
    expect(connections()).toBeLessThanOrEqual(4)
    expect(mostAtOnce()).toBeLessThanOrEqual(4)
  })

  it('without it, the same burst opens more connections than that cap would allow', async () => {
    const { up, connections } = await counted()
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments: up }) })
    onTestFinished(() => mesh.close())

    await burst(mesh, 20)

    expect(connections()).toBeGreaterThan(4)
  })

  it('a policy update that changes the cap applies to the next calls', async () => {
    const { up, mostAtOnce, reset } = await counted()
    const policy = (maxConnections: number) => policyFor({ payments: up }, { payments: { connectionPool: { maxConnections } } })
    const mesh = await createMesh({ service: 'checkout', policy: policy(8) })
    onTestFinished(() => mesh.close())
    await burst(mesh, 20)
    expect(mostAtOnce()).toBeGreaterThan(2)

    await mesh.update(policy(2))
    reset()
    await burst(mesh, 20)

    expect(mostAtOnce()).toBeLessThanOrEqual(2)
  })
})

describe('concurrency.maxInFlight and the connections', () => {
  it('a service limited to 4 calls in flight never opens more than 4 connections to an endpoint', async () => {
    const { up, connections } = await counted()
    const mesh = await createMesh({
      service: 'checkout',
      policy: policyFor({ payments: up }, { payments: { concurrency: { maxInFlight: 4, maxPending: 100 } } }),
    })
    onTestFinished(() => mesh.close())

    for (let round = 0; round < 5; round++) await burst(mesh, 20)

    expect(connections()).toBeLessThanOrEqual(4)
  })
})
