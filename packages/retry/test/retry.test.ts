import { Readable } from 'node:stream'
import { type Call, createTimerQueue, Deadline, weftErrorOf } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import type { ServicePolicy } from '@weft/policy'
import { describe, expect, it } from 'vitest'
import { createRetryBudget, type RetriedReply, type RetryOptions, retry } from '../src/index.js'
import { type Behaviour, drive, hang, network, outboundCall, readRequestBody, reply, TestBody, transportError } from './helpers.js'

function setup(endpoints: Record<string, Behaviour>, options: Omit<RetryOptions, 'clock' | 'timers'> = {}) {
  const clock = new ManualClock()
  const timers = createTimerQueue(clock)
  const net = network(endpoints)
  const handler = retry({ random: () => 0.5, ...options, clock, timers })(net.handler)
  return { clock, timers, handler, sent: net.sent, run: (call: Call) => drive(clock, handler(call)) }
}

const ok: Behaviour = () => reply(200)
const unavailable: Behaviour = () => reply(503)
const attemptsOf = (sent: { call: Call }[]) => sent.map((s) => s.call.headers['x-weft-attempt'])

describe('retry: the first try', () => {
  it('a call that succeeds is sent once, stamped x-weft-attempt: 1, and its reply handed up as it came', async () => {
    const answer = reply(200)
    const { handler, sent } = setup({ a: () => answer })

    const res = await handler(outboundCall())

    expect(res).toBe(answer)
    expect(res.attempts).toBeUndefined()
    expect(attemptsOf(sent)).toEqual(['1'])
  })

  it('headers already stamped x-weft-attempt: 1 (as the dispatcher makes them) go out as they are', async () => {
    const { handler, sent } = setup({ a: ok })
    const headers = { host: 'payments', 'x-weft-attempt': '1' }

    await handler(outboundCall({ headers }))

    expect(sent[0]?.call.headers).toBe(headers)
  })

  it('overwrites an x-weft-attempt the caller sent: it never decides anything', async () => {
    const { handler, sent } = setup({ a: ok })

    await handler(outboundCall({ headers: { 'x-weft-attempt': '99; rm -rf' } }))

    expect(attemptsOf(sent)).toEqual(['1'])
  })

  it('with attempts: 1 nothing is retried, but the attempt is still stamped', async () => {
    const { handler, sent } = setup({ a: unavailable, b: ok }, { attempts: 1 })

    const res = await handler(outboundCall())

    expect(res.status).toBe(503)
    expect(attemptsOf(sent)).toEqual(['1'])
  })
})

describe('retry: what is retried', () => {
  it('a GET that fails once with 503 is retried on another endpoint, which sees x-weft-attempt: 2', async () => {
    const first = new TestBody('busy')
    const { run, sent } = setup({ a: () => reply(503, {}, first), b: ok })

    const res: RetriedReply = await run(outboundCall())

    expect(res.status).toBe(200)
    expect(res.attempts).toBe(2)
    expect(sent.map((s) => s.address)).toEqual(['a', 'b'])
    expect(attemptsOf(sent)).toEqual(['1', '2'])
    expect(sent[1]?.call.tried).toContain('a')
    expect(first.discarded).toBe(true)
  })

  it('gives up after `attempts` tries and hands up the last reply', async () => {
    const { run, sent } = setup({ a: unavailable, b: unavailable }, { attempts: 3 })

    const res = await run(outboundCall())

    expect(res.status).toBe(503)
    expect(res.attempts).toBe(3)
    expect(sent).toHaveLength(3)
  })

  it('a status not in `on` is final', async () => {
    const { run, sent } = setup({ a: () => reply(500), b: ok })

    expect((await run(outboundCall())).status).toBe(500)
    expect(sent).toHaveLength(1)
  })

  it.each([
    [['5xx'], 500, true],
    [['5xx'], 599, true],
    [['gateway-error'], 502, true],
    [['gateway-error'], 500, false],
    [['retriable-4xx'], 409, true],
    [['retriable-4xx'], 404, false],
    [[429], 429, true],
  ] as const)('on: %j retries a %d: %s', async (on, status, retried) => {
    const { run, sent } = setup({ a: () => reply(status), b: ok }, { on: [...on] })

    await run(outboundCall())

    expect(sent).toHaveLength(retried ? 2 : 1)
  })

  it('a reset is retried for a GET', async () => {
    const { run, sent } = setup({ a: () => Promise.reject(transportError('reset', 'a')), b: ok })

    expect((await run(outboundCall())).status).toBe(200)
    expect(sent).toHaveLength(2)
  })

  it('a deadline or the caller’s abort is never retried', async () => {
    const abort = new DOMException('aborted', 'AbortError')
    const { run, sent } = setup({ a: () => Promise.reject(abort), b: ok }, { on: ['5xx', 'timeout'] })

    await expect(run(outboundCall())).rejects.toBe(abort)
    expect(sent).toHaveLength(1)
  })
})

describe('retry: safety', () => {
  it('a POST without idempotency-key that got a 503 is sent exactly once; the 503 is handed up', async () => {
    const { run, sent } = setup({ a: unavailable, b: ok })

    const res: RetriedReply = await run(outboundCall({ method: 'POST', body: '{}' }))

    expect(res.status).toBe(503)
    expect(res.fate).toBe('not_retryable')
    expect(sent).toHaveLength(1)
  })

  it('a POST without idempotency-key that was reset fails with WEFT_NOT_RETRYABLE saying why', async () => {
    const { run, sent } = setup({ a: () => Promise.reject(transportError('reset', 'a')), b: ok })

    const err = await run(outboundCall({ method: 'POST', body: '{}' })).catch((e) => e)

    expect(err.code).toBe('WEFT_NOT_RETRYABLE')
    expect(err.details.reason).toBe('method')
    expect(err.message).toMatch(/POST without an idempotency-key header is not retried/)
    expect(weftErrorOf(err.cause)?.code).toBe('WEFT_UPSTREAM_FAILURE')
    expect(sent).toHaveLength(1)
  })

  it('a POST with an idempotency-key is retried', async () => {
    const { run, sent } = setup({ a: unavailable, b: ok })

    const res = await run(outboundCall({ method: 'POST', body: '{}', headers: { 'idempotency-key': 'k1' } }))

    expect(res.status).toBe(200)
    expect(sent.map((s) => s.call.body)).toEqual(['{}', '{}'])
  })

  it('a route with retries.unsafe retries a PATCH without a key', async () => {
    const { run, sent } = setup({ a: unavailable, b: ok }, { unsafe: true })

    await run(outboundCall({ method: 'PATCH', body: '{}' }))

    expect(sent).toHaveLength(2)
  })

  it('a connect failure is retried whatever the method: nothing was sent', async () => {
    const { run, sent } = setup({ a: () => Promise.reject(transportError('connect-failure', 'a')), b: ok })

    const res = await run(outboundCall({ method: 'POST', body: '{}' }))

    expect(res.status).toBe(200)
    expect(sent).toHaveLength(2)
  })

  it.each(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])('%s is retried without a key', async (method) => {
    const { run, sent } = setup({ a: unavailable, b: ok })

    await run(outboundCall({ method }))

    expect(sent).toHaveLength(2)
  })

  it('a reply body that failed after it reached the caller is not retried', async () => {
    let tries = 0
    const { handler } = setup({
      a: () => {
        tries++
        return {
          status: 200,
          headers: {},
          body: {
            pipe: (sink) => sink.onError(transportError('reset')),
            resume() {},
            discard() {},
          },
        }
      },
    })

    const res = await handler(outboundCall())
    const err = await new Promise((resolve) => res.body?.pipe({ onData: () => true, onEnd: () => resolve(undefined), onError: resolve }))

    expect(weftErrorOf(err)?.code).toBe('WEFT_UPSTREAM_FAILURE')
    expect(tries).toBe(1)
  })
})

describe('retry: streamed request bodies', () => {
  const streamed = (text: string, chunk = 16 * 1024) =>
    Readable.from(
      (function* () {
        for (let i = 0; i < text.length; i += chunk) yield Buffer.from(text.slice(i, i + chunk))
      })(),
    )

  it('a small streamed body is kept and sent again on the retry', async () => {
    const bodies: string[] = []
    const { run } = setup({
      a: async (call) => {
        bodies.push(await readRequestBody(call.body))
        return reply(503)
      },
      b: async (call) => {
        bodies.push(await readRequestBody(call.body))
        return reply(200)
      },
    })

    const res = await run(outboundCall({ method: 'PUT', body: streamed('x'.repeat(40_000)), replayable: false }))

    expect(res.status).toBe(200)
    expect(bodies.map((b) => b.length)).toEqual([40_000, 40_000])
  })

  it('a 1 MiB streamed body is sent once, and the error says why', async () => {
    let received = 0
    const { run, sent } = setup({
      a: async (call) => {
        received = (await readRequestBody(call.body)).length
        throw transportError('reset', 'a')
      },
      b: ok,
    })

    const err = await run(outboundCall({ method: 'PUT', body: streamed('y'.repeat(1024 * 1024)), replayable: false })).catch((e) => e)

    expect(received).toBe(1024 * 1024)
    expect(sent).toHaveLength(1)
    expect(err.code).toBe('WEFT_NOT_RETRYABLE')
    expect(err.details.reason).toBe('body-too-large')
    expect(err.message).toMatch(/larger than the replay buffer \(bufferLimit 65536 bytes\)/)
  })

  it('a streamed body that failed part-way cannot be sent again', async () => {
    const { run, sent } = setup({
      a: async (call) => {
        const it = (call.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
        await it.next()
        await it.return?.()
        throw transportError('reset', 'a')
      },
      b: ok,
    })

    const err = await run(outboundCall({ method: 'PUT', body: streamed('z'.repeat(40_000)), replayable: false })).catch((e) => e)

    expect(err.details.reason).toBe('body-not-replayable')
    expect(sent).toHaveLength(1)
  })

  it('a streamed body never read (connect failure) goes to the next endpoint whole', async () => {
    let body = ''
    const { run } = setup({
      a: () => Promise.reject(transportError('connect-failure', 'a')),
      b: async (call) => {
        body = await readRequestBody(call.body)
        return reply(200)
      },
    })

    await run(outboundCall({ method: 'POST', body: streamed('w'.repeat(200_000)), replayable: false }))

    expect(body.length).toBe(200_000)
  })
})

describe('retry: waiting', () => {
  it('backs off with full jitter: uniform below min(max, base × 2^n)', async () => {
    const at: number[] = []
    const { clock, handler } = setup(
      {
        a: () => {
          at.push(clock.now())
          return reply(503)
        },
      },
      { attempts: 5, random: () => 0.999, backoff: { base: '100ms', max: '300ms' } },
    )
    const t0 = clock.now()

    await drive(clock, handler(outboundCall()), '1ms')

    const gaps = at.map((t, i) => Math.round(t - (at[i - 1] ?? t0)))
    expect(gaps).toEqual([0, 100, 200, 300, 300])
  })

  it('honours Retry-After in seconds', async () => {
    const at: number[] = []
    const { clock, handler } = setup({
      a: (_c, n) => {
        at.push(clock.now())
        return n === 1 ? reply(503, { 'retry-after': '2' }) : reply(200)
      },
    })

    await drive(clock, handler(outboundCall()), '100ms')

    expect((at[1] as number) - (at[0] as number)).toBe(2000)
  })

  it('honours grpc-retry-pushback-ms, and a negative one means do not retry', async () => {
    const at: number[] = []
    const { clock, handler, sent } = setup({
      a: (_c, n) => {
        at.push(clock.now())
        return n === 1 ? reply(503, { 'grpc-retry-pushback-ms': '40' }) : reply(503, { 'grpc-retry-pushback-ms': '-1' })
      },
    })

    const res = await drive(clock, handler(outboundCall()), '1ms')

    expect((at[1] as number) - (at[0] as number)).toBe(40)
    expect(res.status).toBe(503)
    expect(sent).toHaveLength(2)
  })

  it('a Retry-After longer than the time left ends the call with that reply', async () => {
    const { clock, handler, sent } = setup({ a: () => reply(503, { 'retry-after': '5' }) })

    const res = await drive(clock, handler(outboundCall({ deadline: Deadline.after(1000, clock) })))

    expect(res.status).toBe(503)
    expect(sent).toHaveLength(1)
  })

  it('a per-try timeout gives up on a slow try and tries again', async () => {
    const { clock, handler, sent } = setup({ a: (call) => hang(call.signal), b: ok }, { perTryTimeout: '100ms' })

    const res = await drive(clock, handler(outboundCall()))

    expect(res.status).toBe(200)
    expect(weftErrorOf(sent[0]?.call.signal?.reason)?.details.kind).toBe('timeout')
    expect(sent[0]?.call.headers['x-weft-timeout']).toBe('100')
  })

  it('the overall timeout bounds every try and backoff', async () => {
    const { clock, handler, sent } = setup({ a: (call) => hang(call.signal) }, { perTryTimeout: '100ms', timeout: '250ms', attempts: 10 })
    const t0 = clock.now()

    const err = await drive(clock, handler(outboundCall())).catch((e) => e)

    expect(err.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(err.message).toMatch(/exceeded its timeout of 250ms/)
    expect(clock.now() - t0).toBeLessThanOrEqual(255)
    expect(sent.length).toBeLessThanOrEqual(3)
  })

  it('each try sends what is left of the deadline', async () => {
    const { clock, handler, sent } = setup({ a: unavailable }, { backoff: { base: '100ms', max: '100ms' }, random: () => 1 })

    await drive(clock, handler(outboundCall({ deadline: Deadline.after(1000, clock) })), '1ms')

    expect(sent.map((s) => s.call.headers['x-weft-timeout'])).toEqual(['1000', '900', '800'])
  })

  it('the caller aborting during a backoff ends the call with the caller’s reason', async () => {
    const caller = new AbortController()
    const { clock, handler, sent } = setup({ a: unavailable }, { backoff: { base: '1s', max: '1s' } })

    const pending = handler(outboundCall({ signal: caller.signal })).catch((e) => e)
    await clock.advance('10ms')
    caller.abort(new Error('caller gone'))

    expect((await pending).message).toBe('caller gone')
    expect(sent).toHaveLength(1)
  })
})

describe('retry: the budget', () => {
  it('retry storm: an upstream that always fails sees at most 1.2× the requests plus the reserve', async () => {
    const { handler, sent } = setup(
      { a: unavailable, b: unavailable },
      { attempts: 5, random: () => 0, budget: { ratio: 0.2, minPerSecond: 10, window: '10s' } },
    )

    for (let i = 0; i < 1000; i++) await handler(outboundCall())

    const reserve = 10 * 10
    expect(sent.length).toBeLessThanOrEqual(1000 * 1.2 + reserve)
    expect(sent.length).toBeGreaterThanOrEqual(1000 * 1.2 + reserve - 1)
  })

  it('when the budget refuses, the last reply is handed up with fate retry_budget', async () => {
    const budget = createRetryBudget({ ratio: 0, minPerSecond: 0 })
    const { handler, sent } = setup({ a: unavailable, b: ok }, { budget })

    const res: RetriedReply = await handler(outboundCall())

    expect(res.status).toBe(503)
    expect(res.fate).toBe('retry_budget')
    expect(sent).toHaveLength(1)
  })

  it('when the budget refuses after an error, the error is wrapped as WEFT_RETRY_BUDGET_EXHAUSTED', async () => {
    const budget = createRetryBudget({ ratio: 0, minPerSecond: 0 })
    const { handler } = setup({ a: () => Promise.reject(transportError('reset', 'a')) }, { budget })

    const err = await handler(outboundCall()).catch((e) => e)

    expect(err.code).toBe('WEFT_RETRY_BUDGET_EXHAUSTED')
    expect(err.cause.code).toBe('WEFT_UPSTREAM_FAILURE')
    expect(err.details).toMatchObject({ service: 'payments', attempt: 1, kind: 'reset' })
  })

  it('one budget is shared by every call through the stack', async () => {
    const budget = createRetryBudget({ ratio: 0, minPerSecond: 1, window: '1s' })
    const { run, sent } = setup({ a: unavailable, b: ok }, { budget })

    await run(outboundCall())
    await run(outboundCall())

    // the reserve of one retry went to the first call
    expect(attemptsOf(sent)).toEqual(['1', '2', '1'])
  })
})

describe('retry: per-route settings from the policy', () => {
  const policy = {
    name: 'payments',
    timeout: 2000,
    retries: {
      attempts: 2,
      perTryTimeout: undefined,
      on: [503],
      backoff: { base: 0, max: 0 },
      budget: { ratio: 0.2, minPerSecond: 10, window: 10_000 },
      unsafe: false,
      bufferLimit: 65_536,
    },
    routes: [
      {
        name: 'charge',
        timeout: 500,
        retries: {
          attempts: 1,
          perTryTimeout: undefined,
          on: [503],
          backoff: { base: 0, max: 0 },
          budget: { ratio: 0.2, minPerSecond: 10, window: 10_000 },
          unsafe: false,
          bufferLimit: 65_536,
        },
        hedge: undefined,
      },
      {
        name: 'default',
        timeout: undefined,
        retries: {
          attempts: 4,
          perTryTimeout: undefined,
          on: [503],
          backoff: { base: 0, max: 0 },
          budget: { ratio: 0.2, minPerSecond: 10, window: 10_000 },
          unsafe: false,
          bufferLimit: 65_536,
        },
        hedge: undefined,
      },
    ],
  } as unknown as ServicePolicy

  it('each call gets the retries of its route', async () => {
    const { run, sent } = setup({ a: unavailable }, { service: policy })

    await run(outboundCall({ route: 'charge' }))
    const charge = sent.length
    await run(outboundCall({ route: 'default' }))

    expect(charge).toBe(1)
    expect(sent.length - charge).toBe(4)
  })

  it('a call with no known route gets the service’s own', async () => {
    const { run, sent } = setup({ a: unavailable }, { service: policy })

    await run(outboundCall({ route: 'not-a-route' }))

    expect(sent).toHaveLength(2)
  })

  it('tightens the deadline to the route timeout when it is shorter than the one the deadline layer set', async () => {
    const { handler, sent, clock } = setup({ a: ok }, { service: policy })

    await handler(outboundCall({ route: 'charge', deadline: Deadline.after(2000, clock), headers: { 'x-weft-timeout': '2000' } }))

    expect(sent[0]?.call.deadline?.remainingMs()).toBe(500)
    expect(sent[0]?.call.headers['x-weft-timeout']).toBe('500')
  })

  it('a route timeout no shorter than the deadline already set keeps that deadline, its signal and its headers', async () => {
    const { handler, sent, clock } = setup({ a: ok }, { service: policy })
    const deadline = Deadline.after(1000, clock)
    const signal = new AbortController().signal

    await handler(outboundCall({ deadline, signal, headers: { 'x-weft-timeout': '1000' } }))

    expect(sent[0]?.call.deadline).toBe(deadline)
    expect(sent[0]?.call.signal).toBe(signal)
    expect(sent[0]?.call.headers['x-weft-timeout']).toBe('1000')
  })
})

describe('retry: the process', () => {
  it('a retry waiting in its backoff keeps the process alive (the clock’s own timers do not)', async () => {
    const { execFile } = await import('node:child_process')
    const script = `
      import { retry } from '@weft/retry'
      let tries = 0
      const send = retry({ backoff: { base: '200ms', max: '200ms' }, random: () => 1 })(async () => ({ status: ++tries === 1 ? 503 : 200, headers: {}, body: undefined }))
      const reply = await send({ direction: 'outbound', service: 'p', method: 'GET', path: '/', authority: 'p', headers: {}, body: null,
        replayable: true, signal: undefined, deadline: undefined, attempt: 1, route: undefined, subset: undefined, endpoint: undefined,
        tried: [], trace: undefined, peer: undefined, startedAt: 0 })
      console.log(reply.status, reply.attempts)`
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script],
        { cwd: new URL('../../..', import.meta.url).pathname },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    )

    expect(out.trim()).toBe('200 2')
  })
})
