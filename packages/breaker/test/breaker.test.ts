import { createServer } from 'node:net'
import type { Handler, Reply } from '@weft/core'
import { createTimerQueue, isWeftError } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { breaker, createBreaker } from '../src/index.js'
import { call, httpHandler, listen, type Upstream } from './support.js'

const upstreams: Upstream[] = []
afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.close()))
})

async function server(status: number | (() => number)): Promise<Upstream> {
  const u = await listen(status)
  upstreams.push(u)
  return u
}

const codeOf = (err: unknown) => (isWeftError(err) ? err.code : err)

describe('circuit breaker', () => {
  it('opens only after the minimum number of calls, however many of them fail', async () => {
    const clock = new ManualClock()
    const upstream = await server(503)
    const b = createBreaker({ minimumRequests: 5, failurePercent: 50, clock })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 4; i++) {
      const reply = await handler(call({ endpoint: upstream.endpoint }))
      expect(reply.status).toBe(503) // the caller still gets the reply; the breaker only counts it
      expect(b.state()).toBe('closed')
    }
    await handler(call({ endpoint: upstream.endpoint }))
    expect(b.state()).toBe('open')
  })

  it('one failure never opens it with the defaults (opossum alone would open on one)', async () => {
    const upstream = await server(500)
    const b = createBreaker({ clock: new ManualClock() })
    await b.middleware(httpHandler)(call({ endpoint: upstream.endpoint }))
    expect(b.state()).toBe('closed')
    expect(b.snapshot().window).toMatchObject({ requests: 1, failures: 1 })
  })

  it('fails fast with WEFT_CIRCUIT_OPEN while open: the server sees nothing', async () => {
    const clock = new ManualClock()
    const upstream = await server(503)
    const handler = breaker({ minimumRequests: 3, clock })(httpHandler)
    for (let i = 0; i < 3; i++) await handler(call({ endpoint: upstream.endpoint }))
    const err = await handler(call({ endpoint: upstream.endpoint })).catch((e) => e)
    expect(codeOf(err)).toBe('WEFT_CIRCUIT_OPEN')
    expect(err.message).toBe('payments: circuit open; failing fast, probes in 30000ms')
    for (let i = 0; i < 10; i++) await handler(call({ endpoint: upstream.endpoint })).catch(() => {})
    expect(upstream.requests).toHaveLength(3)
  })

  it('lets a probe through after breakDuration and closes when it succeeds', async () => {
    const clock = new ManualClock()
    let status = 503
    const upstream = await server(() => status)
    const b = createBreaker({ minimumRequests: 3, breakDuration: 30_000, clock })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 3; i++) await handler(call({ endpoint: upstream.endpoint }))
    expect(b.state()).toBe('open')

    await clock.advance('29s')
    expect(codeOf(await handler(call({ endpoint: upstream.endpoint })).catch((e) => e))).toBe('WEFT_CIRCUIT_OPEN')
    await clock.advance('1s')
    expect(b.state()).toBe('half-open')

    status = 200
    const reply = await handler(call({ endpoint: upstream.endpoint }))
    expect(reply.status).toBe(200)
    expect(b.state()).toBe('closed')
    expect(upstream.requests).toHaveLength(4)
    // and it judges afresh: the old failures do not count against it
    expect(b.snapshot().window.failures).toBe(0)
  })

  it('opens again for another breakDuration when the probe fails', async () => {
    const clock = new ManualClock()
    const upstream = await server(503)
    const b = createBreaker({ minimumRequests: 3, breakDuration: 10_000, clock })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 3; i++) await handler(call({ endpoint: upstream.endpoint }))
    await clock.advance('10s')
    expect(b.state()).toBe('half-open')
    expect((await handler(call({ endpoint: upstream.endpoint }))).status).toBe(503)
    expect(b.snapshot()).toMatchObject({ state: 'open', openedAt: clock.now(), halfOpenAt: clock.now() + 10_000 })
  })

  it('lets exactly halfOpenRequests probes through, and closes only when all of them succeed', async () => {
    const clock = new ManualClock()
    let status = 503
    const upstream = await server(() => status)
    const b = createBreaker({ minimumRequests: 3, halfOpenRequests: 3, clock })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 3; i++) await handler(call({ endpoint: upstream.endpoint }))
    await clock.advance('30s')
    status = 200
    const probes = [1, 2, 3].map(() => handler(call({ endpoint: upstream.endpoint })))
    expect(codeOf(await handler(call({ endpoint: upstream.endpoint })).catch((e) => e))).toBe('WEFT_CIRCUIT_OPEN')
    await Promise.all(probes)
    expect(b.state()).toBe('closed')
    expect(upstream.requests).toHaveLength(6)
  })

  it('stays closed while failures stay at or under failurePercent', async () => {
    let n = 0
    const upstream = await server(() => (n++ % 5 < 2 ? 500 : 200)) // 40 % fail
    const b = createBreaker({ minimumRequests: 10, failurePercent: 50, clock: new ManualClock() })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 50; i++) await handler(call({ endpoint: upstream.endpoint }))
    expect(b.state()).toBe('closed')
    expect(b.snapshot().window).toMatchObject({ requests: 50, failures: 20, failurePercent: 40 })
  })

  it('forgets failures older than the window', async () => {
    const clock = new ManualClock()
    let status = 500
    const upstream = await server(() => status)
    const b = createBreaker({ minimumRequests: 10, window: 10_000, clock })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 9; i++) await handler(call({ endpoint: upstream.endpoint }))
    await clock.advance('10s')
    expect(b.snapshot().window.requests).toBe(0)
    status = 200
    for (let i = 0; i < 9; i++) await handler(call({ endpoint: upstream.endpoint }))
    status = 500
    await handler(call({ endpoint: upstream.endpoint }))
    expect(b.state()).toBe('closed') // 1 failure in 10, not 10 in 19
  })

  it('counts 5xx and transport failures, not 4xx', async () => {
    const clock = new ManualClock()
    const notFound = await server(404)
    const b = createBreaker({ minimumRequests: 3, clock })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 10; i++) await handler(call({ endpoint: notFound.endpoint }))
    expect(b.state()).toBe('closed')
    expect(b.snapshot().window).toMatchObject({ requests: 10, failures: 0 })

    const port = await closedPort()
    const refused = { address: `127.0.0.1:${port}`, host: '127.0.0.1', port, labels: {}, weight: 1 }
    for (let i = 0; i < 11; i++) await handler(call({ endpoint: refused })).catch(() => {})
    expect(b.state()).toBe('open') // 11 of 21 failed: over 50 %
  })

  it('does not count calls the caller aborted', async () => {
    const aborted: Handler = async () => {
      throw Object.assign(new Error('The operation was aborted'), { name: 'AbortError' })
    }
    const b = createBreaker({ minimumRequests: 3, clock: new ManualClock() })
    for (let i = 0; i < 10; i++)
      await b
        .middleware(aborted)(call())
        .catch(() => {})
    expect(b.state()).toBe('closed')
    expect(b.snapshot().window.failures).toBe(0)
  })

  it('starts no timer per call', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout')
    const ok: Handler = async (): Promise<Reply> => ({ status: 200, headers: {}, body: undefined })
    const clock = new ManualClock()
    const handler = breaker({ clock })(ok)
    for (let i = 0; i < 100; i++) await handler(call())
    expect(spy).not.toHaveBeenCalled()
    spy.mockRestore()
  })

  it('shares one window timer among all the breakers of a mesh, and drops it when idle', async () => {
    const clock = new ManualClock()
    const timers = createTimerQueue(clock)
    const ok: Handler = async (): Promise<Reply> => ({ status: 200, headers: {}, body: undefined })
    const handlers = Array.from({ length: 50 }, (_, i) => breaker({ name: `svc-${i}`, clock, timers })(ok))
    for (const h of handlers) await h(call())
    expect(timers.size()).toBe(1)
    expect(clock.pendingTimers()).toBe(1)
    await clock.advance('11s') // every bucket rotated out
    expect(timers.size()).toBe(0)
  })

  it('has a snapshot that survives JSON', async () => {
    const upstream = await server(503)
    const clock = new ManualClock()
    const b = createBreaker({ name: 'payments', minimumRequests: 2, clock })
    for (let i = 0; i < 2; i++) await b.middleware(httpHandler)(call({ endpoint: upstream.endpoint }))
    const snap = b.snapshot()
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap)
    expect(snap).toEqual({
      name: 'payments',
      state: 'open',
      openedAt: clock.now(),
      halfOpenAt: clock.now() + 30_000,
      window: { requests: 2, failures: 2, successes: 0, rejected: 0, failurePercent: 100 },
      settings: { failurePercent: 50, minimumRequests: 2, window: 10_000, breakDuration: 30_000, halfOpenRequests: 1 },
    })
  })

  it('refuses settings that cannot work', () => {
    for (const bad of [
      { failurePercent: 0 },
      { failurePercent: 101 },
      { minimumRequests: 0 },
      { minimumRequests: 1.5 },
      { halfOpenRequests: 0 },
      { breakDuration: -1 },
      { window: Number.NaN },
    ]) {
      expect(() => createBreaker(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'WEFT_INVALID_ARGUMENT' }))
    }
  })
})

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

describe('a policy update', () => {
  it('a breaker that replaces an open one stays open until the same moment', async () => {
    const clock = new ManualClock()
    const timers = createTimerQueue(clock)
    const upstream = await server(503)
    const before = createBreaker({ minimumRequests: 2, breakDuration: 30_000, clock, timers })
    for (let i = 0; i < 2; i++) await before.middleware(httpHandler)(call({ endpoint: upstream.endpoint }))
    await clock.advance('10s')

    const after = createBreaker({ minimumRequests: 2, breakDuration: 30_000, clock, timers, inherit: before })
    before.close()
    const handler = after.middleware(httpHandler)
    expect(codeOf(await handler(call({ endpoint: upstream.endpoint })).catch((e) => e))).toBe('WEFT_CIRCUIT_OPEN')
    expect(after.snapshot()).toMatchObject({ state: 'open', halfOpenAt: clock.now() + 20_000 })
    await clock.advance('20s')
    expect(after.state()).toBe('half-open')
    expect(upstream.requests).toHaveLength(2)
  })
})
