import { type Call, Deadline, type Handler, type Middleware } from '@weft/core'
import { ManualClock, testCall } from '@weft/core/testing'
import { parsePolicy, type ServicePolicy } from '@weft/policy'
import { describe, expect, it } from 'vitest'
import { FAULT_HEADERS, mirror, route } from '../src/index.js'

/** The resolved `payments` service of a policy whose service section is `service`. */
function payments(service: Record<string, unknown>): ServicePolicy {
  const policy = parsePolicy({
    apiVersion: 'weft.dev/v1',
    services: {
      payments: {
        endpoints: [
          { address: '127.0.0.1:1', labels: { version: 'v1' } },
          { address: '127.0.0.1:2', labels: { version: 'v2' } },
        ],
        subsets: { v1: { version: 'v1' }, v2: { version: 'v2' } },
        ...service,
      },
    },
  })
  return policy.services.payments as ServicePolicy
}

/** An inner handler that records the calls it got and answers 200. */
function recorder(): Handler & { calls: Call[] } {
  const calls: Call[] = []
  const h = (async (call: Call) => {
    calls.push(call)
    return { status: 200, headers: {}, body: undefined }
  }) as Handler & { calls: Call[] }
  h.calls = calls
  return h
}

/** A deterministic uniform sequence, so shares are exact and tests cannot flake. */
function sequence(n: number): () => number {
  let i = 0
  return () => ((i++ * 0.618033988749895) % 1) * (n / n)
}

/** A seeded pseudo-random generator (mulberry32): random-looking draws, the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const share = (calls: Call[], subset: string) => calls.filter((c) => c.subset === subset).length / calls.length

describe('weighted splits', () => {
  it('a 90/10 split sends 10 % ± 1 % of 10 000 calls to v2', async () => {
    const inner = recorder()
    const handler = route({
      service: payments({
        routes: [
          {
            split: [
              { subset: 'v1', weight: 90 },
              { subset: 'v2', weight: 10 },
            ],
          },
        ],
      }),
      random: seeded(7),
    })(inner)

    for (let i = 0; i < 10_000; i++) await handler(testCall())

    expect(share(inner.calls, 'v2')).toBeGreaterThanOrEqual(0.09)
    expect(share(inner.calls, 'v2')).toBeLessThanOrEqual(0.11)
  })

  it('weights are ratios: 3:1 and 750:250 give the same share', async () => {
    const shares: number[] = []
    for (const [a, b] of [
      [3, 1],
      [750, 250],
    ]) {
      const inner = recorder()
      const handler = route({
        service: payments({
          routes: [
            {
              split: [
                { subset: 'v1', weight: a },
                { subset: 'v2', weight: b },
              ],
            },
          ],
        }),
        random: sequence(1),
      })(inner)
      for (let i = 0; i < 4000; i++) await handler(testCall())
      shares.push(share(inner.calls, 'v2'))
    }
    expect(shares[0]).toBe(shares[1])
    expect(shares[0]).toBeCloseTo(0.25, 2)
  })

  it('a sticky split keeps one user on one version', async () => {
    const inner = recorder()
    const handler = route({
      service: payments({
        routes: [
          {
            split: [
              { subset: 'v1', weight: 50 },
              { subset: 'v2', weight: 50 },
            ],
            sticky: { header: 'x-user' },
          },
        ],
      }),
    })(inner)

    for (let i = 0; i < 50; i++) await handler(testCall({ headers: { 'x-user': 'alice' } }))
    for (let i = 0; i < 50; i++) await handler(testCall({ headers: { 'x-user': 'bob' } }))

    expect(new Set(inner.calls.slice(0, 50).map((c) => c.subset)).size).toBe(1)
    expect(new Set(inner.calls.slice(50).map((c) => c.subset)).size).toBe(1)
  })
})

describe('sticky splits', () => {
  it('spread users by the weights: 1 000 users on a sticky 90/10 split put 10 % ± 3 % on v2', async () => {
    const inner = recorder()
    const handler = route({
      service: payments({
        routes: [
          {
            split: [
              { subset: 'v1', weight: 90 },
              { subset: 'v2', weight: 10 },
            ],
            sticky: { header: 'x-user' },
          },
        ],
      }),
    })(inner)

    for (let u = 0; u < 1000; u++) await handler(testCall({ headers: { 'x-user': `user-${u}` } }))

    expect(share(inner.calls, 'v2')).toBeGreaterThanOrEqual(0.07)
    expect(share(inner.calls, 'v2')).toBeLessThanOrEqual(0.13)
  })

  it('a call without the sticky key is split at random', async () => {
    const inner = recorder()
    const handler = route({
      service: payments({
        routes: [
          {
            split: [
              { subset: 'v1', weight: 1 },
              { subset: 'v2', weight: 1 },
            ],
            sticky: { cookie: 'session' },
          },
        ],
      }),
      random: seeded(3),
    })(inner)

    for (let i = 0; i < 1000; i++) await handler(testCall({ headers: { cookie: 'theme=dark' } }))

    expect(share(inner.calls, 'v2')).toBeGreaterThan(0.45)
    expect(share(inner.calls, 'v2')).toBeLessThan(0.55)
  })
})

describe('route matching', () => {
  const service = payments({
    routes: [
      { name: 'canary-header', match: { headers: { 'x-version': 'v2' } }, split: [{ subset: 'v2', weight: 100 }] },
      { name: 'charge', match: { path: { prefix: '/charge' }, methods: ['POST'] }, split: [{ subset: 'v1', weight: 1 }] },
      { name: 'by-query', match: { query: { debug: { present: true } } } },
      { name: 'regex', match: { path: { regex: '/orders/[0-9]+' } } },
    ],
  })

  it('a header match sends every call to v2', async () => {
    const inner = recorder()
    const handler = route({ service })(inner)

    for (let i = 0; i < 100; i++) await handler(testCall({ headers: { 'x-version': 'v2' } }))

    expect(inner.calls.every((c) => c.route === 'canary-header' && c.subset === 'v2')).toBe(true)
  })

  it('the first matching route wins, in order', async () => {
    const inner = recorder()
    const handler = route({ service })(inner)

    await handler(testCall({ method: 'POST', path: '/charge/7', headers: { 'x-version': 'v2' } }))
    await handler(testCall({ method: 'POST', path: '/charge/7' }))
    await handler(testCall({ method: 'GET', path: '/charge/7' }))

    expect(inner.calls.map((c) => c.route)).toEqual(['canary-header', 'charge', 'default'])
  })

  it('matches query parameters, and a regex on the whole path', async () => {
    const inner = recorder()
    const handler = route({ service })(inner)

    await handler(testCall({ path: '/x?debug=1' }))
    await handler(testCall({ path: '/orders/42' }))
    await handler(testCall({ path: '/orders/42/items' }))

    expect(inner.calls.map((c) => c.route)).toEqual(['by-query', 'regex', 'default'])
  })

  it('a pathological regex is refused when the policy loads', () => {
    expect(() => payments({ routes: [{ match: { path: { regex: '(a+)+$' } } }] })).toThrow(/regex/)
  })

  it.each([
    ['a CR/LF in a header value', { headers: { 'x-a': 'v\r\nx-evil: 1' } }, /match\.headers\.x-a: invalid header value/],
    ['a regex over the length limit', { path: { regex: 'a'.repeat(5000) } }, /match\.path\.regex: .*longer than the limit/],
    ['a lookaround', { path: { regex: '(?=a)a' } }, /match\.path\.regex: regex lookarounds/],
    ['an alternation under a repeat', { headers: { 'x-a': { regex: '(a|a)*b' } } }, /match\.headers\.x-a\.regex: /],
    ['__proto__ as a query key', JSON.parse('{ "query": { "__proto__": "x" } }'), /match\.query\.__proto__: /],
  ])('a route match with %s is refused when the policy loads, naming the field', (_what, match, message) => {
    expect(() => payments({ routes: [{ match }] })).toThrow(message)
  })

  it('a regex never runs on a value over 8 KiB: such a header does not match', async () => {
    const inner = recorder()
    const handler = route({ service: payments({ routes: [{ name: 'any-token', match: { headers: { 'x-token': { regex: '.*' } } } }] }) })(
      inner,
    )

    await handler(testCall({ headers: { 'x-token': 'a'.repeat(8192) } }))
    await handler(testCall({ headers: { 'x-token': 'a'.repeat(8193) } }))

    expect(inner.calls.map((c) => c.route)).toEqual(['any-token', 'default'])
  })

  it('a route without a split leaves the subset alone: every endpoint of the service', async () => {
    const inner = recorder()
    await route({ service })(inner)(testCall({ path: '/other' }))
    expect(inner.calls[0]).toMatchObject({ route: 'default', subset: undefined })
  })
})

describe('first match wins, whatever the lookup indexes', () => {
  const names = async (routes: unknown[], calls: Partial<Call>[]) => {
    const inner = recorder()
    const handler = route({ service: payments({ routes }) })(inner)
    for (const c of calls) await handler(testCall(c))
    return inner.calls.map((c) => c.route)
  }

  it('an earlier route matched by a regex beats a later exact path', async () => {
    expect(
      await names(
        [
          { name: 'regex', match: { path: { regex: '/a/.*' } } },
          { name: 'exact', match: { path: '/a/b' } },
        ],
        [{ path: '/a/b' }],
      ),
    ).toEqual(['regex'])
  })

  it('an earlier short prefix beats a later longer one, and an earlier header route beats a later prefix', async () => {
    const routes = [
      { name: 'tenant', match: { headers: { 'x-tenant': 'blue' } } },
      { name: 'short', match: { path: { prefix: '/api' } } },
      { name: 'long', match: { path: { prefix: '/api/v2' } } },
    ]
    expect(await names(routes, [{ path: '/api/v2/x' }, { path: '/api/v2/x', headers: { 'x-tenant': 'blue' } }])).toEqual([
      'short',
      'tenant',
    ])
  })

  it('an indexed route whose other conditions fail falls through to the next match', async () => {
    const routes = [
      { name: 'post-only', match: { path: { prefix: '/charge' }, methods: ['POST'] } },
      { name: 'v2-header', match: { headers: { 'x-version': 'v2' }, path: { prefix: '/charge' } } },
    ]
    expect(
      await names(routes, [
        { path: '/charge', method: 'GET', headers: { 'x-version': 'v2' } },
        { path: '/charge', method: 'GET' },
      ]),
    ).toEqual(['v2-header', 'default'])
  })

  it('a prefix matches the path equal to it and longer ones, not shorter ones; the query is not part of the path', async () => {
    const routes = [
      { name: 'api', match: { path: { prefix: '/api' } } },
      { name: 'exact', match: { path: '/health' } },
    ]
    expect(
      await names(routes, [{ path: '/api' }, { path: '/api/x?y=1' }, { path: '/ap' }, { path: '/health?full=1' }, { path: '/healthz' }]),
    ).toEqual(['api', 'api', 'default', 'exact', 'default'])
  })

  it('1 000 indexed routes keep first-match order against a late catch-all scan', async () => {
    const routes: unknown[] = []
    for (let i = 0; i < 500; i++) routes.push({ name: `p${i}`, match: { path: { prefix: `/api/v${i}/` } } })
    for (let i = 0; i < 500; i++) routes.push({ name: `h${i}`, match: { headers: { 'x-tenant': `t${i}` } } })
    expect(
      await names(routes, [
        { path: '/api/v7/x', headers: { 'x-tenant': 't3' } },
        { path: '/api/v499/x' },
        { path: '/other', headers: { 'x-tenant': 't499' } },
        { path: '/api/v5000/x' },
      ]),
    ).toEqual(['p7', 'p499', 'h499', 'default'])
  })

  it('several match blocks are OR', async () => {
    const routes = [{ name: 'either', match: [{ path: '/a' }, { headers: { 'x-b': 'yes' } }] }]
    expect(await names(routes, [{ path: '/a' }, { path: '/z', headers: { 'x-b': 'yes' } }, { path: '/z' }])).toEqual([
      'either',
      'either',
      'default',
    ])
  })
})

describe('fault injection', () => {
  it('aborts 50 % and delays 50 % by 100 ms, within ±5 % over 2 000 calls, on a manual clock', async () => {
    const clock = new ManualClock()
    const inner = recorder()
    const handler = route({
      service: payments({ routes: [{ fault: { abort: { status: 503, percent: 50 }, delay: { fixed: '100ms', percent: 50 } } }] }),
      clock,
      random: seeded(11),
    })(inner)

    let aborted = 0
    let delayed = 0
    for (let i = 0; i < 2000; i++) {
      const started = clock.now()
      const pending = handler(testCall())
      let settled = false
      pending.then(() => {
        settled = true
      })
      await clock.advance(0)
      if (!settled) {
        await clock.advance('100ms')
        if (clock.now() - started >= 100) delayed++
      }
      if ((await pending).status === 503) aborted++
    }

    expect(aborted / 2000).toBeGreaterThan(0.45)
    expect(aborted / 2000).toBeLessThan(0.55)
    expect(delayed / 2000).toBeGreaterThan(0.45)
    expect(delayed / 2000).toBeLessThan(0.55)
    expect(inner.calls.length).toBe(2000 - aborted)
  })

  it('maxActive caps faults in progress at once', async () => {
    const clock = new ManualClock()
    const inner = recorder()
    const handler = route({ service: payments({ routes: [{ fault: { delay: { fixed: '1s', percent: 100 }, maxActive: 3 } }] }), clock })(
      inner,
    )

    const pending = Array.from({ length: 10 }, () => handler(testCall()))
    await clock.advance(0)

    expect(inner.calls).toHaveLength(7)
    await clock.advance('1s')
    await Promise.all(pending)
    expect(inner.calls).toHaveLength(10)
  })

  it("honours Envoy's fault headers only when the route enables them", async () => {
    const headers = { [FAULT_HEADERS.abort]: '418', [FAULT_HEADERS.abortPercent]: '100' }
    const off = route({ service: payments({ routes: [{}] }) })(recorder())
    const on = route({ service: payments({ routes: [{ fault: { headers: true } }] }) })(recorder())

    expect((await off(testCall({ headers }))).status).toBe(200)
    expect((await on(testCall({ headers }))).status).toBe(418)
    expect((await on(testCall({ headers: { [FAULT_HEADERS.abort]: 'garbage' } }))).status).toBe(200)
  })
})

describe("Envoy's fault headers", () => {
  const enabled = payments({ routes: [{ fault: { headers: true } }] })

  it('x-envoy-fault-delay-request delays by its milliseconds, on the clock', async () => {
    const clock = new ManualClock()
    const inner = recorder()
    const handler = route({ service: enabled, clock })(inner)

    const pending = handler(testCall({ headers: { [FAULT_HEADERS.delay]: '250' } }))
    await clock.advance('249ms')
    expect(inner.calls).toHaveLength(0)
    await clock.advance('1ms')
    await pending

    expect(inner.calls).toHaveLength(1)
  })

  it('a delay header is ignored when the route does not enable header faults', async () => {
    const clock = new ManualClock()
    const inner = recorder()
    const handler = route({ service: payments({ routes: [{ fault: { delay: { fixed: '1s', percent: 0 } } }] }), clock })(inner)

    await handler(testCall({ headers: { [FAULT_HEADERS.delay]: '250' } }))

    expect(inner.calls).toHaveLength(1)
  })

  it("the -percentage header sets the rate, capped by the route's own percentage", async () => {
    const rate = async (service: ServicePolicy, percent: string) => {
      const handler = route({ service, random: sequence(1) })(recorder())
      const headers = { [FAULT_HEADERS.abort]: '503', [FAULT_HEADERS.abortPercent]: percent }
      let aborted = 0
      for (let i = 0; i < 1000; i++) if ((await handler(testCall({ headers }))).status === 503) aborted++
      return aborted / 1000
    }
    const capped = payments({ routes: [{ fault: { headers: true, abort: { status: 500, percent: 10 } } }] })

    expect(await rate(enabled, '30')).toBeCloseTo(0.3, 2)
    expect(await rate(capped, '30')).toBeCloseTo(0.1, 2)
    expect(await rate(capped, '5')).toBeCloseTo(0.05, 2)
  })

  it('garbage fault headers are ignored, never thrown', async () => {
    const clock = new ManualClock() // never advanced: a delay that slipped through would hang the test
    const inner = recorder()
    const handler = route({ service: enabled, clock })(inner)
    const garbage = ['-1', '1e3', 'abc', '', ' 503', '0x1f4', '99999999', '503, 503']
    for (const v of garbage) {
      expect((await handler(testCall({ headers: { [FAULT_HEADERS.abort]: v, [FAULT_HEADERS.delay]: v } }))).status).toBe(200)
    }
    for (const v of ['600', '199']) expect((await handler(testCall({ headers: { [FAULT_HEADERS.abort]: v } }))).status).toBe(200)

    expect(inner.calls).toHaveLength(garbage.length + 2)
  })
})

describe('mirroring', () => {
  /** route then mirror, as in the client stack (retry, concurrency and breaker would stand between). */
  const mirrored = (service: ServicePolicy, inner: Handler, options: { random?: () => number; maxInFlight?: number } = {}) =>
    route({ service, random: options.random })((mirror({ service, ...options }) as Middleware)(inner))

  it('copies about its percentage of calls to the mirror subset with a -shadow authority', async () => {
    const inner = recorder()
    const handler = mirrored(payments({ routes: [{ mirror: { subset: 'v2', percent: 25 } }] }), inner, { random: sequence(1) })

    for (let i = 0; i < 1000; i++) await handler(testCall())
    await new Promise((r) => setImmediate(r))

    const copies = inner.calls.filter((c) => c.subset === 'v2')
    expect(copies.length).toBeGreaterThanOrEqual(240)
    expect(copies.length).toBeLessThanOrEqual(260)
    expect(copies[0]).toMatchObject({ authority: 'payments-shadow', route: 'route-0' })
    expect(copies[0]?.headers.host).toBe('payments-shadow')
  })

  it('a failing mirror never fails the real call', async () => {
    const service = payments({ routes: [{ mirror: { subset: 'v2', percent: 100 } }] })
    const handler = mirrored(service, async (call) => {
      if (call.subset === 'v2') throw new Error('mirror is down')
      return { status: 200, headers: {}, body: undefined }
    })

    expect((await handler(testCall())).status).toBe(200)
  })

  it('a mirror that never answers does not hold the real call', async () => {
    const service = payments({ routes: [{ mirror: { subset: 'v2', percent: 100 } }] })
    const handler = mirrored(service, (call) =>
      call.subset === 'v2' ? new Promise<never>(() => {}) : Promise.resolve({ status: 200, headers: {}, body: undefined }),
    )

    expect((await handler(testCall())).status).toBe(200)
  })

  it("a mirror that never answers is cut off at the real call's deadline", async () => {
    const clock = new ManualClock()
    const service = payments({ routes: [{ mirror: { subset: 'v2', percent: 100 } }] })
    const copies: AbortSignal[] = []
    const handler = (mirror({ service, clock }) as Middleware)((call) => {
      if (call.subset !== 'v2') return Promise.resolve({ status: 200, headers: {}, body: undefined })
      copies.push(call.signal as AbortSignal)
      return new Promise<never>(() => {})
    })

    await handler(testCall({ route: 'route-0', deadline: new Deadline(clock.now() + 300, clock) }))
    await clock.advance('299ms')
    expect(copies.map((s) => s.aborted)).toEqual([false])
    await clock.advance('1ms')

    expect(copies.map((s) => s.aborted)).toEqual([true])
  })

  it('without a deadline, a mirror is cut off after its timeout and its slot is free again', async () => {
    const clock = new ManualClock()
    const service = payments({ routes: [{ mirror: { subset: 'v2', percent: 100 } }] })
    const copies: AbortSignal[] = []
    const handler = (mirror({ service, clock, maxInFlight: 1, timeout: 1000 }) as Middleware)((call) => {
      if (call.subset !== 'v2') return Promise.resolve({ status: 200, headers: {}, body: undefined })
      copies.push(call.signal as AbortSignal)
      return new Promise<never>((_resolve, reject) => call.signal?.addEventListener('abort', () => reject(call.signal?.reason)))
    })

    await handler(testCall({ route: 'route-0' }))
    await handler(testCall({ route: 'route-0' }))
    expect(copies).toHaveLength(1) // the one slot is taken
    await clock.advance('1s')
    await handler(testCall({ route: 'route-0' }))

    expect(copies.map((s) => s.aborted)).toEqual([true, false])
  })

  it('drops mirrors beyond maxInFlight instead of queueing them', async () => {
    const service = payments({ routes: [{ mirror: { subset: 'v2', percent: 100 } }] })
    let copies = 0
    const handler = mirrored(
      service,
      (call) => {
        if (call.subset !== 'v2') return Promise.resolve({ status: 200, headers: {}, body: undefined })
        copies++
        return new Promise<never>(() => {})
      },
      { maxInFlight: 4 },
    )

    for (let i = 0; i < 10; i++) expect((await handler(testCall())).status).toBe(200)

    expect(copies).toBe(4)
  })

  it('discards the mirror reply body', async () => {
    const service = payments({ routes: [{ mirror: { subset: 'v2', percent: 100 } }] })
    let discarded = 0
    const body = { pipe() {}, resume() {}, discard: () => discarded++ }
    const handler = mirrored(service, async () => ({ status: 200, headers: {}, body }))

    await handler(testCall())
    await new Promise((r) => setImmediate(r))

    expect(discarded).toBe(1)
  })

  it('mirrors a call once, not again on its retries', async () => {
    const inner = recorder()
    const handler = (mirror({ service: payments({ routes: [{ mirror: { subset: 'v2', percent: 100 } }] }) }) as Middleware)(inner)

    await handler(testCall({ route: 'default', attempt: 2 }))

    expect(inner.calls).toHaveLength(1)
  })

  it('does not mirror a one-shot body', async () => {
    const inner = recorder()
    const handler = mirrored(payments({ routes: [{ mirror: { subset: 'v2', percent: 100 } }] }), inner)

    await handler(testCall({ replayable: false, method: 'POST' }))

    expect(inner.calls).toHaveLength(1)
  })

  it('is left out of the stack when no route mirrors', () => {
    expect(mirror({ service: payments({ routes: [{}] }) })).toBeUndefined()
  })
})
