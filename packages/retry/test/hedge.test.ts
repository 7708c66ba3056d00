import { type Call, createTimerQueue, type Reply } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import { describe, expect, it } from 'vitest'
import { createRetryBudget, type RetryOptions, retry } from '../src/index.js'
import { type Behaviour, drive, network, outboundCall, reply, TestBody } from './helpers.js'

function setup(endpoints: (clock: ManualClock) => Record<string, Behaviour>, options: Omit<RetryOptions, 'clock' | 'timers'>) {
  const clock = new ManualClock()
  const timers = createTimerQueue(clock)
  const net = network(endpoints(clock))
  const handler = retry({ random: () => 0, ...options, clock, timers })(net.handler)
  return { clock, handler, sent: net.sent }
}

/** An endpoint that answers after `ms` on the clock, unless its try is aborted first. */
const after =
  (clock: ManualClock, ms: number, status = 200, bodies: TestBody[] = []): Behaviour =>
  async (call) => {
    await clock.sleep(ms, call.signal)
    const body = new TestBody('ok')
    bodies.push(body)
    return reply(status, {}, body)
  }

/** Starts `n` calls at once and resolves with each one's latency on the clock. */
async function latencies(clock: ManualClock, handler: (call: Call) => Promise<Reply>, n: number, make = () => outboundCall()) {
  const t0 = clock.now()
  const times: number[] = []
  const all = Promise.all(
    Array.from({ length: n }, () =>
      handler(make()).then((r) => {
        times.push(clock.now() - t0)
        return r
      }),
    ),
  )
  await drive(clock, all, '1ms', 5000)
  return times.sort((a, b) => a - b)
}

const p99 = (sorted: number[]) => sorted[Math.ceil(sorted.length * 0.99) - 1] as number

describe('hedging', () => {
  it('cuts p99 when one endpoint of two is slow', async () => {
    const endpoints = (clock: ManualClock) => ({ slow: after(clock, 1000), fast: after(clock, 10) })
    const plain = setup(endpoints, { attempts: 1 })
    const hedged = setup(endpoints, { attempts: 1, hedge: { delay: '50ms' } })

    const without = await latencies(plain.clock, plain.handler, 100)
    const withHedges = await latencies(hedged.clock, hedged.handler, 100)

    expect(p99(without)).toBe(1000)
    expect(p99(withHedges)).toBeLessThanOrEqual(61)
  })

  it('the first good answer wins; the other try is aborted and its reply discarded', async () => {
    const bodies: TestBody[] = []
    const { clock, handler, sent } = setup((clock) => ({ slow: after(clock, 1000, 200, bodies), fast: after(clock, 10) }), {
      hedge: { delay: '50ms' },
    })

    const res = await drive(clock, handler(outboundCall()), '1ms')

    expect(res.status).toBe(200)
    expect(res.attempts).toBe(2)
    expect(sent.map((s) => s.address)).toEqual(['slow', 'fast'])
    expect(sent.map((s) => s.call.headers['x-weft-attempt'])).toEqual(['1', '2'])
    expect(sent[0]?.call.signal?.aborted).toBe(true)
    expect(sent[1]?.call.tried).toContain('slow')
  })

  it('a loser that answers after the winner has its body discarded', async () => {
    const bodies: TestBody[] = []
    // the slow endpoint ignores the abort and answers anyway
    const { clock, handler } = setup(
      (clock) => ({
        slow: async () => {
          await clock.sleep(100)
          const body = new TestBody('late')
          bodies.push(body)
          return reply(200, {}, body)
        },
        fast: after(clock, 10),
      }),
      { hedge: { delay: '50ms' } },
    )

    await drive(clock, handler(outboundCall()), '1ms')
    await clock.advance('100ms')

    expect(bodies).toHaveLength(1)
    expect(bodies[0]?.discarded).toBe(true)
  })

  it('sends no hedge when the first try answers in time', async () => {
    const { clock, handler, sent } = setup((clock) => ({ a: after(clock, 20), b: after(clock, 20) }), { hedge: { delay: '50ms' } })

    await drive(clock, handler(outboundCall()), '1ms')
    await clock.advance('100ms')

    expect(sent).toHaveLength(1)
  })

  it('never hedges a POST without an idempotency key', async () => {
    const { clock, handler, sent } = setup((clock) => ({ slow: after(clock, 1000), fast: after(clock, 10) }), { hedge: { delay: '50ms' } })

    await drive(clock, handler(outboundCall({ method: 'POST', body: '{}' })), '1ms')

    expect(sent).toHaveLength(1)
  })

  it('never sends more hedges than the budget allows', async () => {
    const budget = createRetryBudget({ ratio: 0.1, minPerSecond: 0, window: '10s' })
    const { clock, handler, sent } = setup((clock) => ({ slow: after(clock, 1000), fast: after(clock, 10) }), {
      budget,
      hedge: { delay: '50ms' },
    })

    await latencies(clock, handler, 100)

    expect(sent.length - 100).toBeLessThanOrEqual(10)
    expect(sent.length - 100).toBeGreaterThan(0)
  })

  it('replaces a try that failed before the delay at once, while tries remain', async () => {
    const { clock, handler, sent } = setup((clock) => ({ broken: after(clock, 5, 503), fine: after(clock, 10) }), {
      hedge: { delay: '50ms', maxAttempts: 2 },
    })
    const t0 = clock.now()

    const res = await drive(clock, handler(outboundCall()), '1ms')

    expect(res.status).toBe(200)
    expect(clock.now() - t0).toBeLessThanOrEqual(16)
    expect(sent).toHaveLength(2)
  })

  it('hands up the last failure when every try failed', async () => {
    const { clock, handler, sent } = setup((clock) => ({ a: after(clock, 100, 503), b: after(clock, 100, 503) }), {
      hedge: { delay: '20ms', maxAttempts: 2 },
    })

    const res = await drive(clock, handler(outboundCall()), '1ms')

    expect(res.status).toBe(503)
    expect(sent).toHaveLength(2)
  })

  it('at a percentile: hedges once a try is slower than the route’s observed p99', async () => {
    let slow = false
    const { clock, handler, sent } = setup(
      (clock) => ({
        a: (call, n) => after(clock, slow && n > 0 ? 500 : 10)(call, n),
        b: after(clock, 10),
      }),
      { hedge: { percentile: 99 } },
    )
    await latencies(clock, handler, 50)
    const warm = sent.length
    slow = true

    const t0 = clock.now()
    await drive(clock, handler(outboundCall()), '1ms')

    expect(warm).toBe(50)
    expect(sent[warm]?.address).toBe('a')
    expect(sent[warm + 1]?.address).toBe('b')
    expect(clock.now() - t0).toBeLessThan(30)
  })
})
