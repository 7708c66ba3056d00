import type { Call, Handler, Reply } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import { describe, expect, it } from 'vitest'
import { balancer, createBalancer } from '../src/index.js'
import { smoothSchedule } from '../src/weighted-round-robin.js'
import { addresses, call, mutableSource, reply, tally } from './support.js'

/** An inner handler that answers at once and records each call. */
function recorder() {
  const seen: Call[] = []
  const handler: Handler = async (c) => {
    seen.push(c)
    return reply()
  }
  return { seen, handler }
}

describe('weighted round robin', () => {
  it('over 10 000 picks sends to each endpoint in proportion to its weight (±2 %)', async () => {
    const net = recorder()
    const source = mutableSource([
      { address: '10.0.0.1:80', weight: 1 },
      { address: '10.0.0.2:80', weight: 2 },
      { address: '10.0.0.3:80', weight: 3 },
      { address: '10.0.0.4:80', weight: 4 },
    ])
    const handler = balancer({ source, loadBalancer: { type: 'round-robin' }, outlierDetection: false })(net.handler)
    for (let i = 0; i < 10_000; i++) await handler(call())
    const counts = tally(net.seen)
    for (const [address, weight] of [
      ['10.0.0.1:80', 1],
      ['10.0.0.2:80', 2],
      ['10.0.0.3:80', 3],
      ['10.0.0.4:80', 4],
    ] as const) {
      const expected = (10_000 * weight) / 10
      expect(Math.abs((counts.get(address) ?? 0) - expected) / expected, address).toBeLessThanOrEqual(0.02)
    }
  })

  it('interleaves picks instead of sending bursts to the heavy endpoint', () => {
    const schedule = Array.from(smoothSchedule([5, 1, 1]))
    expect(schedule).toHaveLength(7)
    expect(schedule.filter((i) => i === 0)).toHaveLength(5)
    // nginx's smooth WRR gives a a b a c a a: never more than two of the heavy one in a row within the cycle
    let run = 0
    let longest = 0
    for (const i of schedule) {
      run = i === 0 ? run + 1 : 0
      longest = Math.max(longest, run)
    }
    expect(longest).toBeLessThanOrEqual(3)
  })

  it('keeps weights in proportion for large pools too (scheduled by earliest deadline first)', () => {
    const weights = Array.from({ length: 3000 }, (_, i) => 1 + (i % 5))
    const schedule = smoothSchedule(weights)
    const counts = new Array(3000).fill(0)
    for (const i of schedule) counts[i]++
    expect(schedule.length).toBe(weights.reduce((a, b) => a + b, 0))
    expect(counts).toEqual(weights)
  })

  it('keeps unequal non-integer weights in proportion', () => {
    const schedule = smoothSchedule([0.5, 1.5])
    const heavy = Array.from(schedule).filter((i) => i === 1).length
    expect(heavy / schedule.length).toBeCloseTo(0.75, 2)
  })
})

describe('least request', () => {
  it('prefers the endpoint with fewer calls in flight', async () => {
    const held: (() => void)[] = []
    const seen: Call[] = []
    const inner: Handler = (c) => {
      seen.push(c)
      if (c.endpoint?.address === '10.0.0.1:80') return new Promise((resolve) => held.push(() => resolve(reply())))
      return Promise.resolve(reply())
    }
    const handler = balancer({ source: mutableSource(['10.0.0.1:80', '10.0.0.2:80']), loadBalancer: { type: 'least-request' } })(inner)
    const pending: Promise<unknown>[] = []
    for (let i = 0; i < 20; i++) {
      const p = handler(call())
      pending.push(p)
      if (seen.at(-1)?.endpoint?.address !== '10.0.0.1:80') await p
    }
    // once the slow endpoint holds a call, every new call finds the other one less loaded
    expect(tally(seen).get('10.0.0.1:80')).toBe(1)
    for (const release of held) release()
    await Promise.all(pending)
  })

  it('with unequal weights and no load, follows the weights', async () => {
    const net = recorder()
    const source = mutableSource([
      { address: '10.0.0.1:80', weight: 1 },
      { address: '10.0.0.2:80', weight: 1 },
      { address: '10.0.0.3:80', weight: 8 },
    ])
    const handler = balancer({ source, loadBalancer: { type: 'least-request' } })(net.handler)
    for (let i = 0; i < 2000; i++) await handler(call())
    expect(tally(net.seen).get('10.0.0.3:80') ?? 0).toBeGreaterThan(2000 * 0.6)
  })
})

describe('EWMA (peak EWMA, power of two choices)', () => {
  it('sends at least 80 % of traffic away from an endpoint 10× slower, and shifts back after it recovers', async () => {
    const clock = new ManualClock()
    const latency = new Map([
      ['10.0.0.1:80', 10],
      ['10.0.0.2:80', 100],
    ])
    const started: { at: number; address: string }[] = []
    const inner: Handler = async (c) => {
      const address = c.endpoint?.address as string
      started.push({ at: clock.now(), address })
      await clock.sleep(latency.get(address) as number)
      return reply()
    }
    const handler = balancer({ source: mutableSource([...latency.keys()]), loadBalancer: { type: 'ewma', decay: 1000 }, clock })(inner)

    // eight callers in a loop, as a busy service would have
    let running = true
    const workers = Array.from({ length: 8 }, async () => {
      while (running) await handler(call())
    })
    const share = (from: number, to: number) => {
      const window = started.filter((s) => s.at >= from && s.at < to)
      return window.filter((s) => s.address === '10.0.0.2:80').length / window.length
    }

    const t0 = clock.now()
    for (let i = 0; i < 1000; i++) await clock.advance(5) // 5 s slow
    latency.set('10.0.0.2:80', 10) // it recovers
    const t1 = clock.now()
    for (let i = 0; i < 1000; i++) await clock.advance(5) // 5 s fast
    running = false
    for (let i = 0; i < 40; i++) await clock.advance(5)
    await Promise.all(workers)

    expect(share(t0 + 1000, t1)).toBeLessThanOrEqual(0.2)
    expect(share(t1 + 3000, t1 + 5000)).toBeGreaterThanOrEqual(0.35)
  })

  it('starts a new endpoint at the default RTT and reports the estimate', async () => {
    const clock = new ManualClock()
    const b = createBalancer({ source: mutableSource(['10.0.0.1:80']), loadBalancer: { defaultRtt: 30 }, clock })
    expect(b.snapshot().endpoints[0]?.ewmaMs).toBe(30)
    const handler = b.middleware(async () => {
      await clock.advance(200)
      return reply()
    })
    await handler(call())
    // a slower response is taken at once
    expect(b.snapshot().endpoints[0]?.ewmaMs).toBe(200)
  })

  it('sends nothing new to an endpoint holding calls while another is as fast and idle, even hours later', async () => {
    const clock = new ManualClock()
    const b = createBalancer({
      source: mutableSource(['10.0.0.1:80', '10.0.0.2:80']),
      loadBalancer: { type: 'ewma', decay: 10_000 },
      clock,
    })
    const held: Promise<Reply>[] = []
    let holding = 3
    const seen: string[] = []
    const handler = b.middleware((c) => {
      const address = c.endpoint?.address as string
      if (address === '10.0.0.1:80' && holding > 0) {
        holding--
        return new Promise<Reply>(() => {}) // never answers: stays in flight
      }
      seen.push(address)
      return Promise.resolve(reply())
    })
    while (holding > 0) held.push(handler(call()))
    await Promise.resolve()
    for (const when of [0, 3 * 3_600_000]) {
      // 3 hours idle: e^(−1080) of the estimate is left, below what a double holds
      await clock.advance(when)
      seen.length = 0
      for (let i = 0; i < 200; i++) await handler(call())
      expect(seen.filter((a) => a === '10.0.0.1:80')).toHaveLength(0)
    }
    expect(b.snapshot().endpoints.map((e) => e.inFlight)).toEqual([3, 0])
  })

  it('keeps what it learnt about an endpoint when the decay changes', async () => {
    const clock = new ManualClock()
    const source = mutableSource(['10.0.0.1:80', '10.0.0.2:80'])
    const first = createBalancer({ source, loadBalancer: { type: 'ewma', decay: 10_000 }, clock })
    const handler = first.middleware(async (c) => {
      await clock.advance(c.endpoint?.address === '10.0.0.2:80' ? 300 : 1)
      return reply()
    })
    for (let i = 0; i < 20; i++) await handler(call())
    const second = createBalancer({ source, loadBalancer: { type: 'ewma', decay: 1_000 }, clock, inherit: first })
    const [fast, slow] = second.snapshot().endpoints.map((e) => e.ewmaMs) as [number, number]
    expect(fast).toBeLessThan(30)
    expect(slow).toBeGreaterThan(250)
    // and picks weigh them under the new decay, not as two fresh endpoints at the default RTT
    const picks = Array.from({ length: 200 }, () => second.pick(call())?.address)
    expect(picks.filter((a) => a === '10.0.0.2:80')).toHaveLength(0)
  })
})

function keyMapping(handler: Handler, seen: Call[], keys: number): Promise<string[]> {
  return (async () => {
    const out: string[] = []
    for (let k = 0; k < keys; k++) {
      await handler(call({ headers: { 'x-user': `user-${k}` } }))
      out.push(seen.at(-1)?.endpoint?.address as string)
    }
    return out
  })()
}

for (const type of ['ring-hash', 'maglev'] as const) {
  describe(type, () => {
    it('sends the same key to the same endpoint every time', async () => {
      const net = recorder()
      const handler = balancer({ source: mutableSource(addresses(10)), loadBalancer: { type, hashOn: { header: 'x-user' } } })(net.handler)
      for (let i = 0; i < 50; i++) await handler(call({ headers: { 'x-user': 'alice' } }))
      expect(tally(net.seen).size).toBe(1)
    })

    it('moves at most 15 % of keys when one of 10 endpoints is removed', async () => {
      const net = recorder()
      const source = mutableSource(addresses(10))
      const handler = balancer({ source, loadBalancer: { type, hashOn: { header: 'x-user' } }, outlierDetection: false })(net.handler)
      const before = await keyMapping(handler, net.seen, 10_000)
      source.set(addresses(10).filter((a) => a !== addresses(10)[3]))
      const after = await keyMapping(handler, net.seen, 10_000)
      const moved = before.filter((a, i) => a !== after[i]).length / before.length
      expect(moved).toBeGreaterThan(0.05) // the removed endpoint's keys did move
      expect(moved).toBeLessThanOrEqual(0.15)
      // and the keys spread over every endpoint
      expect(new Set(after).size).toBe(9)
    })

    it('spreads calls without a key over every endpoint', async () => {
      const net = recorder()
      const handler = balancer({ source: mutableSource(addresses(4)), loadBalancer: { type, hashOn: { header: 'x-user' } } })(net.handler)
      for (let i = 0; i < 400; i++) await handler(call())
      expect(tally(net.seen).size).toBe(4)
    })

    it('hashes on a cookie', async () => {
      const net = recorder()
      const handler = balancer({ source: mutableSource(addresses(10)), loadBalancer: { type, hashOn: { cookie: 'session' } } })(net.handler)
      for (let i = 0; i < 20; i++) await handler(call({ headers: { cookie: `theme=dark${i}; session=abc123; x=1` } }))
      expect(tally(net.seen).size).toBe(1)
    })

    it("hashes on the caller's identity", async () => {
      const net = recorder()
      const handler = balancer({ source: mutableSource(addresses(10)), loadBalancer: { type, hashOn: { identity: true } } })(net.handler)
      const peer = { identity: 'spiffe://weft.local/ns/default/sa/checkout' }
      for (let i = 0; i < 20; i++) await handler(call({ peer, headers: { 'x-i': String(i) } }))
      expect(tally(net.seen).size).toBe(1)
    })

    it("a route's own hashOn overrides the service's", async () => {
      const net = recorder()
      const handler = balancer({
        source: mutableSource(addresses(10)),
        loadBalancer: { type, hashOn: { header: 'x-user' } },
        routes: [{ name: 'carts', hashOn: { header: 'x-cart' } }],
      })(net.handler)
      for (let i = 0; i < 20; i++) await handler(call({ route: 'carts', headers: { 'x-cart': 'c1', 'x-user': `u${i}` } }))
      expect(tally(net.seen).size).toBe(1)
    })
  })
}

describe('slow start', () => {
  it('ramps a newly added endpoint up over the window', async () => {
    const clock = new ManualClock()
    const net = recorder()
    const source = mutableSource(addresses(2))
    const handler = balancer({ source, loadBalancer: { type: 'round-robin', slowStartWindow: 10_000 }, clock })(net.handler)
    source.set(addresses(3))
    const fresh = addresses(3)[2] as string
    const shareOfFresh = async () => {
      net.seen.length = 0
      for (let i = 0; i < 3000; i++) await handler(call())
      return (tally(net.seen).get(fresh) ?? 0) / 3000
    }
    expect(await shareOfFresh()).toBeLessThan(0.1)
    await clock.advance('5s')
    const halfway = await shareOfFresh()
    expect(halfway).toBeGreaterThan(0.1)
    expect(halfway).toBeLessThan(0.3)
    await clock.advance('5s')
    expect(await shareOfFresh()).toBeCloseTo(1 / 3, 1)
  })

  it('leaves the endpoints present at start alone', async () => {
    const clock = new ManualClock()
    const net = recorder()
    const handler = balancer({
      source: mutableSource(addresses(3)),
      loadBalancer: { type: 'round-robin', slowStartWindow: 10_000 },
      clock,
    })(net.handler)
    for (let i = 0; i < 300; i++) await handler(call())
    expect([...tally(net.seen).values()]).toEqual([100, 100, 100])
  })
})
