import { createServer } from 'node:net'
import type { Call, Handler } from '@weft/core'
import { createTimerQueue } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createBalancer, maxEjections } from '../src/index.js'
import { call, httpHandler, listen, mutableSource, reply, tally, type Upstream } from './support.js'

const upstreams: Upstream[] = []
afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.close()))
})

async function server(status: number | (() => number)): Promise<Upstream> {
  const u = await listen(status)
  upstreams.push(u)
  return u
}

/** Wraps the real HTTP handler to record which endpoint each call reached. */
function recording(inner: Handler = httpHandler) {
  const seen: Call[] = []
  const handler: Handler = (c) => {
    seen.push(c)
    return inner(c)
  }
  return { seen, handler }
}

describe('how many endpoints may be ejected', () => {
  it('is floor(n × maxEjectionPercent / 100), but at least one from two or more, and none from one', () => {
    expect(maxEjections(1, 50)).toBe(0)
    expect(maxEjections(2, 50)).toBe(1)
    expect(maxEjections(3, 50)).toBe(1)
    expect(maxEjections(4, 50)).toBe(2)
    expect(maxEjections(5, 10)).toBe(1) // Envoy's 10 % would eject nobody here
    expect(maxEjections(20, 10)).toBe(2)
    expect(maxEjections(1, 100)).toBe(1)
  })
})

describe('outlier detection', () => {
  it('never ejects more than maxEjectionPercent: 4 endpoints, 3 failing, at most 2 out, the healthy one keeps serving', async () => {
    const clock = new ManualClock()
    const healthy = await server(200)
    const failing = await Promise.all([server(503), server(503), server(503)])
    const b = createBalancer({
      source: mutableSource([healthy.address, ...failing.map((f) => f.address)]),
      loadBalancer: { type: 'round-robin' },
      outlierDetection: { consecutive5xx: 2, maxEjectionPercent: 50 },
      clock,
    })
    const net = recording()
    const handler = b.middleware(net.handler)
    let mostEjected = 0
    for (let i = 0; i < 60; i++) {
      await handler(call())
      mostEjected = Math.max(mostEjected, b.snapshot().endpoints.filter((e) => e.health === 'ejected').length)
    }
    expect(mostEjected).toBe(2)
    expect(healthy.requests.length).toBeGreaterThanOrEqual(20)
    const last20 = tally(net.seen.slice(-20))
    expect(last20.get(healthy.address)).toBeGreaterThanOrEqual(10) // shares the traffic with the one failing endpoint left in
  })

  it('ejects at once after consecutive5xx failures, and says why and until when', async () => {
    const clock = new ManualClock()
    const good = await server(200)
    const bad = await server(500)
    const b = createBalancer({
      source: mutableSource([good.address, bad.address]),
      loadBalancer: { type: 'round-robin' },
      outlierDetection: { consecutive5xx: 3, baseEjectionTime: 30_000 },
      clock,
    })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 6; i++) await handler(call())
    const state = b.snapshot().endpoints.find((e) => e.address === bad.address)
    expect(state).toMatchObject({
      health: 'ejected',
      ejectionReason: '3 consecutive 5xx',
      ejectedUntil: clock.now() + 30_000,
      ejections: 1,
    })
    const before = bad.requests.length
    for (let i = 0; i < 10; i++) await handler(call())
    expect(bad.requests.length).toBe(before)
  })

  it('counts connection failures as gateway errors', async () => {
    const clock = new ManualClock()
    const good = await server(200)
    const closed = await closedPort()
    const b = createBalancer({
      source: mutableSource([good.address, `127.0.0.1:${closed}`]),
      loadBalancer: { type: 'round-robin' },
      outlierDetection: { consecutive5xx: 100, consecutiveGatewayErrors: 2 },
      clock,
    })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 6; i++) await handler(call()).catch(() => {})
    expect(b.snapshot().endpoints.find((e) => e.address === `127.0.0.1:${closed}`)).toMatchObject({
      health: 'ejected',
      ejectionReason: '2 consecutive gateway errors',
    })
  })

  it('panics when most endpoints are ejected: traffic spreads over all of them', async () => {
    const clock = new ManualClock()
    const healthy = await server(200)
    const failing = await Promise.all([server(503), server(503), server(503)])
    const b = createBalancer({
      source: mutableSource([healthy.address, ...failing.map((f) => f.address)]),
      loadBalancer: { type: 'round-robin' },
      outlierDetection: { consecutive5xx: 1, maxEjectionPercent: 100, panicThreshold: 50 },
      clock,
    })
    const net = recording()
    const handler = b.middleware(net.handler)
    for (let i = 0; i < 20; i++) await handler(call())
    const snap = b.snapshot()
    expect(snap.endpoints.filter((e) => e.health === 'ejected')).toHaveLength(3)
    expect(snap.pools[0]).toMatchObject({ endpoints: 4, healthy: 1, panic: true })
    const spread = tally(net.seen.slice(-40))
    net.seen.length = 0
    for (let i = 0; i < 40; i++) await handler(call())
    expect(tally(net.seen).size).toBe(4)
    expect(spread.size).toBeGreaterThan(0)
  })

  it('without panic, sends only to the healthy endpoints', async () => {
    const clock = new ManualClock()
    const healthy = await Promise.all([server(200), server(200), server(200)])
    const failing = await server(503)
    const b = createBalancer({
      source: mutableSource([...healthy.map((h) => h.address), failing.address]),
      loadBalancer: { type: 'round-robin' },
      outlierDetection: { consecutive5xx: 1 },
      clock,
    })
    const net = recording()
    const handler = b.middleware(net.handler)
    for (let i = 0; i < 8; i++) await handler(call())
    net.seen.length = 0
    for (let i = 0; i < 30; i++) await handler(call())
    expect(tally(net.seen).has(failing.address)).toBe(false)
    expect(b.snapshot().pools[0]?.panic).toBe(false)
  })

  it('brings an ejected endpoint back after its time on probation: one failure sends it out for twice as long', async () => {
    const clock = new ManualClock()
    const timers = createTimerQueue(clock)
    const good = await server(200)
    let badStatus = 503
    const flaky = await server(() => badStatus)
    const b = createBalancer({
      source: mutableSource([good.address, flaky.address]),
      loadBalancer: { type: 'round-robin' },
      outlierDetection: { consecutive5xx: 2, interval: 1_000, baseEjectionTime: 10_000 },
      clock,
      timers,
    })
    const handler = b.middleware(httpHandler)
    const flakyState = () => b.snapshot().endpoints.find((e) => e.address === flaky.address)
    for (let i = 0; i < 4; i++) await handler(call())
    expect(flakyState()?.health).toBe('ejected')

    await clock.advance('9s')
    expect(flakyState()?.health).toBe('ejected')
    await clock.advance('1s')
    expect(flakyState()?.health).toBe('probing')

    // the first call it gets fails: straight back out, for 2 × base
    for (let i = 0; i < 2; i++) await handler(call())
    expect(flakyState()).toMatchObject({
      health: 'ejected',
      ejectionReason: 'failed on probation',
      ejections: 2,
      ejectedUntil: clock.now() + 20_000,
    })

    badStatus = 200
    await clock.advance('20s')
    expect(flakyState()?.health).toBe('probing')
    for (let i = 0; i < 2; i++) await handler(call())
    expect(flakyState()?.health).toBe('healthy')
    b.close()
  })

  it('caps one ejection at maxEjectionTime', async () => {
    const clock = new ManualClock()
    const good = await server(200)
    const bad = await server(503)
    const b = createBalancer({
      source: mutableSource([good.address, bad.address]),
      loadBalancer: { type: 'round-robin' },
      outlierDetection: { consecutive5xx: 1, interval: 1_000, baseEjectionTime: 10_000, maxEjectionTime: 15_000 },
      clock,
    })
    const handler = b.middleware(httpHandler)
    const badState = () => b.snapshot().endpoints.find((e) => e.address === bad.address)
    for (let round = 0; round < 3; round++) {
      while (badState()?.health !== 'ejected') await handler(call())
      const out = (badState()?.ejectedUntil ?? 0) - clock.now()
      expect(out).toBe(Math.min(10_000 * (round + 1), 15_000))
      await clock.advance(out)
    }
    b.close()
  })

  it('ejects by success rate at the interval (Envoy: below mean − stdevFactor × stdev)', async () => {
    const clock = new ManualClock()
    const good = await Promise.all([server(200), server(200), server(200), server(200)])
    let n = 0
    const poor = await server(() => (n++ % 2 === 0 ? 500 : 200)) // 50 % success
    const b = createBalancer({
      source: mutableSource([...good.map((g) => g.address), poor.address]),
      loadBalancer: { type: 'round-robin' },
      outlierDetection: {
        consecutive5xx: 1000,
        consecutiveGatewayErrors: 1000,
        interval: 10_000,
        successRate: { minimumHosts: 5, requestVolume: 10, stdevFactor: 1.9 },
      },
      clock,
    })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 100; i++) await handler(call())
    expect(b.snapshot().endpoints.find((e) => e.address === poor.address)?.health).toBe('healthy')
    await clock.advance('10s')
    expect(b.snapshot().endpoints.find((e) => e.address === poor.address)).toMatchObject({
      health: 'ejected',
      ejectionReason: expect.stringMatching(/^success rate 50\.0%/),
    })
    b.close()
  })

  it('ejects by failure percentage at the interval', async () => {
    const clock = new ManualClock()
    const good = await server(200)
    let n = 0
    const poor = await server(() => (n++ % 4 === 0 ? 200 : 502))
    const b = createBalancer({
      source: mutableSource([good.address, poor.address]),
      loadBalancer: { type: 'round-robin' },
      outlierDetection: {
        consecutive5xx: 1000,
        consecutiveGatewayErrors: 1000,
        failurePercentage: { threshold: 70, minimumHosts: 2, requestVolume: 10 },
      },
      clock,
    })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 40; i++) await handler(call())
    await clock.advance('10s')
    expect(b.snapshot().endpoints.find((e) => e.address === poor.address)).toMatchObject({
      health: 'ejected',
      ejectionReason: 'failure percentage 75.0% at or above 70%',
    })
    b.close()
  })

  it('ignores calls the caller aborted: they say nothing about the endpoint', async () => {
    const clock = new ManualClock()
    const aborted: Handler = async () => {
      throw Object.assign(new Error('aborted'), { name: 'AbortError' })
    }
    const b = createBalancer({ source: mutableSource(['10.0.0.1:80', '10.0.0.2:80']), outlierDetection: { consecutive5xx: 1 }, clock })
    const handler = b.middleware(aborted)
    for (let i = 0; i < 10; i++) await handler(call()).catch(() => {})
    expect(b.snapshot().endpoints.every((e) => e.health === 'healthy')).toBe(true)
  })

  it('keeps its interval timer only while there is traffic or an ejection', async () => {
    const clock = new ManualClock()
    const timers = createTimerQueue(clock)
    const b = createBalancer({ source: mutableSource(['10.0.0.1:80']), outlierDetection: { interval: 1_000 }, clock, timers })
    expect(timers.size()).toBe(0)
    await b.middleware(async () => reply())(call())
    expect(timers.size()).toBe(1)
    await clock.advance('1s')
    expect(timers.size()).toBe(1) // traffic in the last interval: one more look
    await clock.advance('1s')
    expect(timers.size()).toBe(0) // idle: a retired stack costs nothing
  })

  it('can be turned off', async () => {
    const good = await server(200)
    const bad = await server(503)
    const b = createBalancer({
      source: mutableSource([good.address, bad.address]),
      loadBalancer: { type: 'round-robin' },
      outlierDetection: false,
    })
    const handler = b.middleware(httpHandler)
    for (let i = 0; i < 20; i++) await handler(call())
    expect(bad.requests).toHaveLength(10)
    expect(b.snapshot().outlierDetection).toBe(false)
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
  it('keeps what the balancer it replaces learnt: an ejected endpoint stays out until its time', async () => {
    const clock = new ManualClock()
    const timers = createTimerQueue(clock)
    const good = await server(200)
    const bad = await server(503)
    const source = mutableSource([good.address, bad.address])
    const options = {
      source,
      loadBalancer: { type: 'round-robin' as const },
      outlierDetection: { consecutive5xx: 1, interval: 1_000 },
      clock,
      timers,
    }
    const before = createBalancer(options)
    for (let i = 0; i < 2; i++) await before.middleware(httpHandler)(call())
    const ejected = before.snapshot().endpoints.find((e) => e.address === bad.address)
    expect(ejected?.health).toBe('ejected')

    const after = createBalancer({ ...options, inherit: before })
    before.close()
    expect(after.snapshot().endpoints.find((e) => e.address === bad.address)).toEqual(ejected)
    const handler = after.middleware(httpHandler)
    for (let i = 0; i < 10; i++) await handler(call())
    expect(bad.requests).toHaveLength(1)
    await clock.advance('30s')
    expect(after.snapshot().endpoints.find((e) => e.address === bad.address)?.health).toBe('probing')
    after.close()
  })
})
