/**
 * The transport's pools, against real node:http servers on loopback: one undici Pool per endpoint,
 * kept while it has connections or calls, dropped once its last connection has closed.
 */
import type { Endpoint, Reply } from '@weft/core'
import { testCall } from '@weft/core/testing'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, type Upstream } from '../../../test/support/servers.js'
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

describe('the transport’s pools', () => {
  it('reuses one pool per endpoint for every call while its connections stay open', async () => {
    const a = await listen()
    const b = await listen()
    onTestFinished(async () => {
      await Promise.all([a.close(), b.close()])
    })
    const t = transport()

    for (let i = 0; i < 5; i++) expect(await send(t, i % 2 === 0 ? a : b)).toBe(200)

    expect(t.addresses().sort()).toEqual([a.address, b.address].sort())
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
