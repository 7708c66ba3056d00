import { type Call, createTimerQueue, type HeaderMap, weftErrorOf } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import { describe, expect, it } from 'vitest'
import { createDeadlineStats, type InboundDeadlineOptions, inboundDeadline } from '../src/index.js'
import { hangUntilAborted, inboundCall, reply } from './helpers.js'

function setup(options: Omit<InboundDeadlineOptions, 'clock' | 'timers' | 'stats'> = {}, inner?: (call: Call) => Promise<unknown>) {
  const clock = new ManualClock()
  const timers = createTimerQueue(clock)
  const stats = createDeadlineStats()
  const seen: Call[] = []
  const handler = inboundDeadline({ ...options, clock, timers, stats })(async (call) => {
    seen.push(call)
    if (inner) await inner(call)
    return reply(200)
  })
  const serve = (headers: HeaderMap) => handler(inboundCall(headers))
  return { clock, timers, stats, seen, handler, serve }
}

describe('server deadline', () => {
  it('a request that arrives with x-weft-timeout: 0 gets a 504 and the handler never runs', async () => {
    const { serve, seen, stats } = setup()

    const err = await serve({ 'x-weft-timeout': '0' }).catch((e) => e)

    expect(weftErrorOf(err)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(weftErrorOf(err)?.status).toBe(504)
    expect(seen).toHaveLength(0)
    expect(stats.shed).toBe(1)
  })

  it('a sub-millisecond grpc-timeout is already expired too', async () => {
    const { serve, seen } = setup()

    await expect(serve({ 'grpc-timeout': '300u' })).rejects.toThrow(/no time left/)
    expect(seen).toHaveLength(0)
  })

  it('the handler sees the deadline and a signal that fires when it passes', async () => {
    const { serve, seen, clock, stats } = setup({}, (call) => hangUntilAborted(call.signal))

    const pending = serve({ 'x-weft-timeout': '250' }).catch((e) => e)
    await clock.advance('1ms')
    expect(seen[0]?.deadline?.remainingMs()).toBe(249)
    expect(seen[0]?.signal?.aborted).toBe(false)
    await clock.advance('249ms')

    expect(seen[0]?.signal?.aborted).toBe(true)
    expect(weftErrorOf(seen[0]?.signal?.reason)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(weftErrorOf(await pending)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(stats.expired).toBe(1)
  })

  it('a request without deadline headers runs as it came, with no timer', async () => {
    const { handler, seen, timers } = setup()
    const call = inboundCall({ host: 'orders' })

    await handler(call)

    expect(seen[0]).toBe(call)
    expect(timers.size()).toBe(0)
  })

  it('releases the timer when the handler is done', async () => {
    const { serve, timers } = setup()

    await serve({ 'x-weft-timeout': '1000' })

    expect(timers.size()).toBe(0)
  })

  it.each([
    ['x-weft-timeout', 'abc'],
    ['x-weft-timeout', 'NaN'],
    ['x-weft-timeout', '1e3'],
    ['x-weft-timeout', '0x10'],
    ['x-weft-timeout', ' 100'],
    ['x-weft-timeout', '100ms'],
    ['x-weft-timeout', '-5'],
    ['x-weft-timeout', ''],
    ['x-weft-timeout', '1e309'],
    ['x-weft-timeout', '7'.repeat(10_240)],
    ['grpc-timeout', '1'],
    ['grpc-timeout', '100x'],
    ['grpc-timeout', '123456789S'],
    ['grpc-timeout', '-1S'],
    ['x-envoy-expected-rq-timeout-ms', 'soon'],
  ])('%s: %j is ignored and counted, and the request is served', async (header, value) => {
    const { serve, seen, stats } = setup()

    const res = await serve({ [header]: value })

    expect(res.status).toBe(200)
    expect(seen[0]?.deadline).toBeUndefined()
    expect(stats.invalid[header as keyof typeof stats.invalid]).toBe(1)
  })

  it('reports invalid headers to onInvalidHeader', async () => {
    const reported: string[] = []
    const { serve } = setup({ onInvalidHeader: (header, value) => reported.push(`${header}=${value}`) })

    await serve({ 'x-weft-timeout': 'abc', 'grpc-timeout': '2S' })

    expect(reported).toEqual(['x-weft-timeout=abc'])
  })

  it('the smallest valid header wins', async () => {
    const { serve, seen } = setup()

    await serve({ 'x-weft-timeout': '900', 'grpc-timeout': '1S', 'x-envoy-expected-rq-timeout-ms': '300' })

    expect(seen[0]?.deadline?.remainingMs()).toBe(300)
  })

  it('a huge value is clamped to maxInboundTimeout, never handed raw to a timer', async () => {
    const { serve, seen, stats } = setup({ maxInboundTimeout: '1m' })

    await serve({ 'x-weft-timeout': '9999999999' })

    expect(seen[0]?.deadline?.remainingMs()).toBe(60_000)
    expect(stats.clamped).toBe(1)
  })

  it('maxInboundTimeout defaults to five minutes', async () => {
    const { serve, seen } = setup()

    await serve({ 'x-weft-timeout': '99999999' })

    expect(seen[0]?.deadline?.remainingMs()).toBe(300_000)
  })

  it('minInboundTimeout keeps an outside caller from forcing shedding', async () => {
    const { serve, seen } = setup({ minInboundTimeout: '50ms' })

    await serve({ 'x-weft-timeout': '0' })

    expect(seen[0]?.deadline?.remainingMs()).toBe(50)
  })

  it('defaultTimeout bounds a request that sent no valid deadline', async () => {
    const { serve, seen } = setup({ defaultTimeout: '2s' })

    await serve({ 'x-weft-timeout': 'abc' })

    expect(seen[0]?.deadline?.remainingMs()).toBe(2000)
  })

  it('rejects an invalid option when configured, naming it', () => {
    expect(() => inboundDeadline({ maxInboundTimeout: '-1s' })).toThrow(/maxInboundTimeout/)
  })
})
