import { getEventListeners } from 'node:events'
import { AbortScope, type Call, createTimerQueue, Deadline, type Handler, runWithCall, systemClock, weftErrorOf } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import type { ServicePolicy } from '@weft/policy'
import { describe, expect, it } from 'vitest'
import { type DeadlineOptions, deadline, loosestTimeout } from '../src/index.js'
import { hangUntilAborted, inboundCall, ManualBody, outboundCall, readBody, reply } from './helpers.js'

/** The deadline layer around a handler that records what it was given. */
function setup(options: Omit<DeadlineOptions, 'clock' | 'timers'> = {}, inner?: Handler) {
  const clock = new ManualClock()
  const timers = createTimerQueue(clock)
  const seen: Call[] = []
  const handler = deadline({ ...options, clock, timers })((call) => {
    seen.push(call)
    return inner ? inner(call) : Promise.resolve(reply(200))
  })
  return { clock, timers, seen, handler }
}

describe('client deadline: the budget', () => {
  it('a call with no deadline anywhere passes through untouched', async () => {
    const { handler, seen } = setup()
    const call = outboundCall()

    await handler(call)

    expect(seen[0]).toBe(call)
  })

  it('an x-weft-timeout the caller sent bounds the call, and goes upstream with grpc-timeout', async () => {
    const { handler, seen, clock } = setup()

    await handler(outboundCall({ headers: { host: 'payments', 'x-weft-timeout': '300' } }))

    expect(seen[0]?.deadline?.at).toBe(clock.now() + 300)
    expect(seen[0]?.headers['x-weft-timeout']).toBe('300')
    expect(seen[0]?.headers['grpc-timeout']).toBe('300m')
    expect(seen[0]?.headers.host).toBe('payments')
  })

  it('the service timeout bounds a call that has no other deadline', async () => {
    const { handler, seen } = setup({ timeout: '2s' })

    await handler(outboundCall())

    expect(seen[0]?.headers['x-weft-timeout']).toBe('2000')
    expect(seen[0]?.signal).toBeInstanceOf(AbortSignal)
  })

  it('an outbound call made while serving a request inherits what is left of its deadline', async () => {
    const { handler, seen, clock } = setup({ timeout: '2s' })
    const serving = inboundCall({}, { deadline: Deadline.after(800, clock) })
    await clock.advance('300ms')

    await runWithCall(serving, () => handler(outboundCall()))

    expect(seen[0]?.deadline).toBe(serving.deadline)
    expect(seen[0]?.headers['x-weft-timeout']).toBe('500')
  })

  it('the smallest of the caller header, the inbound remaining time and the timeout wins', async () => {
    const { handler, seen, clock } = setup({ timeout: '1s' })
    const serving = inboundCall({}, { deadline: Deadline.after(600, clock) })

    await runWithCall(serving, () => handler(outboundCall({ headers: { 'x-weft-timeout': '900' } })))
    await runWithCall(serving, () => handler(outboundCall({ headers: { 'x-weft-timeout': '250' } })))
    await handler(outboundCall({ headers: { 'x-weft-timeout': '5000' } }))

    expect(seen.map((c) => c.headers['x-weft-timeout'])).toEqual(['600', '250', '1000'])
  })

  it('propagate: false ignores the inbound deadline', async () => {
    const { handler, seen, clock } = setup({ propagate: false })
    const serving = inboundCall({}, { deadline: Deadline.after(600, clock) })

    await runWithCall(serving, () => handler(outboundCall()))

    expect(seen[0]?.deadline).toBeUndefined()
  })

  it('a call whose budget is already gone fails locally, without reaching the network', async () => {
    const { handler, seen, clock } = setup()
    const serving = inboundCall({}, { deadline: Deadline.after(100, clock) })
    await clock.advance('100ms')

    const err = await runWithCall(serving, () => handler(outboundCall())).catch((e) => e)

    expect(weftErrorOf(err)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(err.message).toMatch(/payments had no time left \(set by the inbound request it serves\)/)
    expect(seen).toHaveLength(0)
  })

  it('a caller-sent x-weft-timeout: 0 fails locally too', async () => {
    const { handler, seen } = setup()

    const err = await handler(outboundCall({ headers: { 'x-weft-timeout': '0' } })).catch((e) => e)

    expect(weftErrorOf(err)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(seen).toHaveLength(0)
  })

  it('a caller-sent x-weft-timeout of 115 days is honoured on real timers, with no overflow warning and no early abort', async () => {
    const timers = createTimerQueue(systemClock)
    const seen: Call[] = []
    const handler = deadline({ clock: systemClock, timers })((call) => {
      seen.push(call)
      return new Promise((resolve) => setTimeout(() => resolve(reply(200)), 5))
    })
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.name)
    process.on('warning', onWarning)
    try {
      const answer = await handler(outboundCall({ headers: { 'x-weft-timeout': '9999999999' } }))
      expect(answer.status).toBe(200)
    } finally {
      process.off('warning', onWarning)
      timers.close()
    }
    // the call carried the deadline's signal, and it never fired
    expect(seen[0]?.signal).toBeInstanceOf(AbortSignal)
    expect(seen[0]?.signal?.aborted).toBe(false)
    expect(Number(seen[0]?.headers['x-weft-timeout'])).toBeGreaterThan(9_999_999_000)
    expect(warnings).not.toContain('TimeoutOverflowWarning')
  })

  it('a garbage deadline header from the caller is ignored and not forwarded', async () => {
    const { handler, seen } = setup()

    await handler(outboundCall({ headers: { 'x-weft-timeout': '1e3', 'x-other': 'kept' } }))

    expect(seen[0]?.deadline).toBeUndefined()
    expect(seen[0]?.headers['x-weft-timeout']).toBeUndefined()
    expect(seen[0]?.headers['x-other']).toBe('kept')
  })

  it('a __proto__ header stays a header, not a prototype', async () => {
    const { handler, seen } = setup({ timeout: '1s' })
    const headers = Object.create(null)
    Object.defineProperty(headers, '__proto__', { value: ['polluted'], enumerable: true })

    await handler(outboundCall({ headers }))

    const sent = seen[0]?.headers as Record<string, unknown>
    expect(Object.getOwnPropertyDescriptor(sent, '__proto__')?.value).toEqual(['polluted'])
    expect(Object.getPrototypeOf(sent)).toBe(Object.prototype)
  })
})

describe('client deadline: the signal', () => {
  it('aborts the call with WEFT_DEADLINE_EXCEEDED when the deadline passes', async () => {
    const { handler, clock } = setup({ timeout: '300ms' }, (call) => hangUntilAborted(call.signal))

    const pending = handler(outboundCall()).catch((e) => e)
    await clock.advance('299ms')
    await clock.advance('1ms')
    const err = await pending

    expect(weftErrorOf(err)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(err.message).toMatch(/exceeded its deadline of 300ms/)
  })

  it("follows the caller's own signal, with the caller's reason", async () => {
    const { handler } = setup({ timeout: '1s' }, (call) => hangUntilAborted(call.signal))
    const caller = new AbortController()

    const pending = handler(outboundCall({ signal: caller.signal })).catch((e) => e)
    caller.abort(new Error('user left'))

    expect((await pending).message).toBe('user left')
  })

  it('aborts a reply body still streaming when the deadline passes', async () => {
    const body = new ManualBody()
    let signal: AbortSignal | undefined
    const { handler, clock } = setup({ timeout: '1s' }, (call) => {
      signal = call.signal
      signal?.addEventListener('abort', () => body.fail(signal?.reason))
      return Promise.resolve(reply(200, body))
    })

    const res = await handler(outboundCall())
    const reading = readBody(res.body).catch((e) => e)
    body.push('partial')
    await clock.advance('1s')

    expect(weftErrorOf(await reading)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
  })

  it('rides the shared timer queue: a thousand calls in flight arm one clock timer', async () => {
    const { handler, clock, timers } = setup({ timeout: '1s' }, (call) => hangUntilAborted(call.signal))

    const pending = Array.from({ length: 1000 }, () => handler(outboundCall()).catch(() => undefined))

    expect(timers.size()).toBe(1000)
    expect(clock.pendingTimers()).toBe(1)
    await clock.advance('1s')
    await Promise.all(pending)
    expect(timers.size()).toBe(0)
  })

  it('is released once the reply body has ended', async () => {
    const body = new ManualBody()
    const { handler, timers } = setup({ timeout: '1s' }, () => Promise.resolve(reply(200, body)))

    const res = await handler(outboundCall())
    expect(timers.size()).toBe(1)
    const reading = readBody(res.body)
    body.push('all of it')
    body.end()

    expect(await reading).toBe('all of it')
    expect(timers.size()).toBe(0)
  })

  it('is released at once for a reply without a body, a discarded body and a failed call', async () => {
    const bodies = [undefined, new ManualBody()]
    let i = 0
    const { handler, timers } = setup({ timeout: '1s' }, () =>
      i < 2 ? Promise.resolve(reply(200, bodies[i++])) : Promise.reject(new Error('refused')),
    )
    const caller = new AbortController()

    await handler(outboundCall({ signal: caller.signal }))
    const second = await handler(outboundCall({ signal: caller.signal }))
    second.body?.discard()
    await handler(outboundCall({ signal: caller.signal })).catch(() => undefined)

    expect(timers.size()).toBe(0)
    expect((bodies[1] as ManualBody).discarded).toBe(true)
    // nothing is left listening on a long-lived caller signal
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
  })
})

describe("client deadline: a call with a scope (the dispatcher's)", () => {
  it('aborts the scope with WEFT_DEADLINE_EXCEEDED when the deadline passes, making no signal of its own', async () => {
    const scope = new AbortScope()
    const { handler, clock, seen } = setup({ timeout: '300ms' })

    await handler(outboundCall({ scope }))
    await clock.advance('300ms')

    expect(seen[0]?.signal).toBeUndefined()
    expect(seen[0]?.deadline?.at).toBe(clock.now())
    expect(weftErrorOf(scope.reason)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect((scope.reason as Error).message).toMatch(/exceeded its deadline of 300ms/)
  })

  it('leaves its timer with the scope: cancelled when the call ends, body included', async () => {
    const scope = new AbortScope()
    const { handler, timers } = setup({ timeout: '1s' })

    await handler(outboundCall({ scope }))
    expect(timers.size()).toBe(1)
    scope.end()

    expect(timers.size()).toBe(0)
    expect(scope.aborted).toBe(false)
  })

  it('a call whose signal a layer above narrowed keeps the signal path', async () => {
    const scope = new AbortScope()
    const caller = new AbortController()
    const { handler, seen } = setup({ timeout: '1s' })

    await handler(outboundCall({ scope, signal: caller.signal }))

    expect(seen[0]?.signal).toBeDefined()
    expect(seen[0]?.signal).not.toBe(caller.signal)
  })
})

describe('loosestTimeout', () => {
  const service = (timeout: number | undefined, routes: (number | undefined)[]) =>
    ({ timeout, routes: routes.map((t, i) => ({ name: `r${i}`, timeout: t })) }) as unknown as ServicePolicy

  it('is the loosest route timeout, so no route is cut short before routing', () => {
    expect(loosestTimeout(service(2000, [5000, undefined]))).toBe(5000)
    expect(loosestTimeout(service(2000, [100, undefined]))).toBe(2000)
  })

  it('is none when some route has no timeout at all', () => {
    expect(loosestTimeout(service(undefined, [100, undefined]))).toBe(Number.POSITIVE_INFINITY)
  })

  it('a service with routes that all inherit is bounded by the service timeout', async () => {
    const { handler, seen } = setup({ service: service(1500, [undefined, undefined]) })

    await handler(outboundCall())

    expect(seen[0]?.headers['x-weft-timeout']).toBe('1500')
  })
})
