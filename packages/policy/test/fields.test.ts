/** The fields other packages read: each one parsed into its resolved shape, and its checks. */
import { describe, expect, it } from 'vitest'
import { defaultServicePolicy, POLICY_DEFAULTS, parsePolicy, resolveService } from '../src/index.js'
import { linesOf, payments } from './helpers.js'

const service = (fields: Record<string, unknown>) => {
  const s = resolveService(parsePolicy(payments(fields)), 'payments')
  if (s === undefined) throw new Error('payments missing')
  return s
}
const route = (fields: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  service({ ...extra, routes: [{ match: { path: '/r' }, ...fields }] }).routes[0]

describe('loadBalancer', () => {
  it('takes a name', () => {
    expect(service({ loadBalancer: 'least-request' }).loadBalancer.type).toBe('least-request')
  })

  it('takes settings, in milliseconds, with a hash key', () => {
    expect(
      service({
        loadBalancer: { type: 'ring-hash', decay: '5s', defaultRtt: '50ms', slowStartWindow: '30s', hashOn: { header: 'X-User' } },
      }).loadBalancer,
    ).toEqual({
      type: 'ring-hash',
      decay: 5000,
      defaultRtt: 50,
      activeRequestBias: 1,
      slowStartWindow: 30_000,
      hashOn: { header: 'x-user' },
    })
  })

  it('refuses an unknown picker, listing the known ones', () => {
    expect(linesOf(payments({ loadBalancer: 'random' }))[0]).toBe(
      'services.payments.loadBalancer: expected one of round-robin, least-request, ewma, ring-hash, maglev, or { type, decay, defaultRtt, activeRequestBias, slowStartWindow, hashOn }, got string "random"',
    )
  })

  it('refuses a hash key with two sources', () => {
    expect(linesOf(payments({ loadBalancer: { hashOn: { header: 'x-user', cookie: 'sid' } } }))).toEqual([
      'services.payments.loadBalancer.hashOn: takes one of header, cookie, identity, not header and cookie',
    ])
  })

  it('hashes on the caller’s identity', () => {
    expect(service({ loadBalancer: { type: 'maglev', hashOn: { identity: true } } }).loadBalancer.hashOn).toEqual({ identity: true })
  })
})

describe('retries', () => {
  it('takes every field', () => {
    expect(
      service({
        retries: {
          attempts: 4,
          perTryTimeout: 250,
          on: ['5xx', 'gateway-error', 'retriable-4xx', 'refused-stream', 'timeout', 429],
          backoff: { base: '10ms', max: '1s' },
          unsafe: true,
          bufferLimit: 1024,
        },
      }).retries,
    ).toEqual({
      attempts: 4,
      perTryTimeout: 250,
      on: ['5xx', 'gateway-error', 'retriable-4xx', 'refused-stream', 'timeout', 429],
      backoff: { base: 10, max: 1000 },
      budget: POLICY_DEFAULTS.retries.budget,
      unsafe: true,
      bufferLimit: 1024,
    })
  })

  it('refuses an unknown condition', () => {
    expect(linesOf(payments({ retries: { on: [503, 'flaky'] } }))).toEqual([
      'services.payments.retries.on[1]: expected a status code 100-599 or one of 5xx, gateway-error, retriable-4xx, connect-failure, reset, refused-stream, timeout, got string "flaky"',
    ])
  })

  it('refuses a status outside 100-599', () => {
    expect(linesOf(payments({ retries: { on: [99] } }))[0]).toContain('services.payments.retries.on[0]: expected a status code 100-599')
  })

  it('refuses 0 attempts', () => {
    expect(linesOf(payments({ retries: { attempts: 0 } }))).toEqual([
      'services.payments.retries.attempts: must be at least 1, got number 0',
    ])
  })

  it('refuses a budget on a route: the budget is per service', () => {
    expect(linesOf(payments({ routes: [{ retries: { budget: { ratio: 1 } } }] }))).toEqual([
      'services.payments.routes[0].retries.budget: the retry budget is per service: set it under the service or under defaults',
    ])
  })

  it('refuses a budget ratio over 1', () => {
    expect(linesOf(payments({ retries: { budget: { ratio: 2 } } }))).toEqual([
      'services.payments.retries.budget.ratio: must be at most 1, got number 2',
    ])
  })

  it('refuses a backoff base longer than its max, once merged', () => {
    expect(linesOf(payments({ retries: { backoff: { base: '1s' } } }))).toEqual([
      'services.payments.retries.backoff: base (1000ms) is longer than max (250ms)',
    ])
  })

  it('reports a bad backoff in defaults once, at defaults', () => {
    const doc = { apiVersion: 'weft.dev/v1', defaults: { retries: { backoff: { base: '1s', max: '10ms' } } }, services: { a: {}, b: {} } }
    expect(linesOf(doc)).toEqual(['defaults.retries.backoff: base (1000ms) is longer than max (10ms)'])
  })
})

describe('outlier detection and circuit breaker', () => {
  it('refuses a baseEjectionTime longer than maxEjectionTime', () => {
    expect(linesOf(payments({ outlierDetection: { baseEjectionTime: '10m' } }))).toEqual([
      'services.payments.outlierDetection: baseEjectionTime (600000ms) is longer than maxEjectionTime (300000ms)',
    ])
  })

  it('refuses true: only false turns a section on or off', () => {
    expect(linesOf(payments({ circuitBreaker: true }))).toEqual([
      'services.payments.circuitBreaker: expected false (turns the circuit breaker off) or a mapping of its settings, got boolean true',
    ])
  })

  it('successRate: false turns an inherited success-rate ejection off', () => {
    const doc = {
      apiVersion: 'weft.dev/v1',
      defaults: { outlierDetection: { successRate: {} } },
      services: { payments: { outlierDetection: { successRate: false } } },
    }
    const s = resolveService(parsePolicy(doc), 'payments')
    expect(s?.outlierDetection).toMatchObject({ successRate: undefined })
  })

  it('takes concurrency limits', () => {
    expect(service({ concurrency: { maxInFlight: 100, maxPending: 10 } }).concurrency).toEqual({ maxInFlight: 100, maxPending: 10 })
  })
})

describe('connectionPool', () => {
  it('opens as many connections to each endpoint as calls need by default', () => {
    expect(service({}).connectionPool).toEqual({ maxConnections: Number.POSITIVE_INFINITY })
  })

  it('takes a cap on the connections to each endpoint, inherited from defaults', () => {
    const doc = { apiVersion: 'weft.dev/v1', defaults: { connectionPool: { maxConnections: 64 } }, services: { payments: {} } }
    expect(resolveService(parsePolicy(doc), 'payments')?.connectionPool).toEqual({ maxConnections: 64 })
    expect(service({ connectionPool: { maxConnections: 8 } }).connectionPool).toEqual({ maxConnections: 8 })
  })

  it('refuses a cap of 0 or a fraction, naming the field', () => {
    expect(linesOf(payments({ connectionPool: { maxConnections: 0 } }))[0]).toMatch(/^services\.payments\.connectionPool\.maxConnections: /)
    expect(linesOf(payments({ connectionPool: { maxConnections: 2.5 } }))[0]).toMatch(
      /^services\.payments\.connectionPool\.maxConnections: /,
    )
  })
})

describe('inboundTimeout', () => {
  it('bounds the deadlines callers send by default as inboundDeadline does: at most 5 minutes, no minimum, no default', () => {
    expect(service({}).inboundTimeout).toEqual({ max: 300_000, min: 0, default: undefined })
  })

  it('takes a maximum, a minimum and a default, in milliseconds', () => {
    expect(service({ inboundTimeout: { max: '30s', min: '100ms', default: '10s' } }).inboundTimeout).toEqual({
      max: 30_000,
      min: 100,
      default: 10_000,
    })
  })

  it('is inherited from defaults key by key', () => {
    const doc = {
      apiVersion: 'weft.dev/v1',
      defaults: { inboundTimeout: { max: '1m', default: '5s' } },
      services: { payments: { inboundTimeout: { min: '50ms' } }, ledger: {} },
    }
    const policy = parsePolicy(doc)
    expect(resolveService(policy, 'payments')?.inboundTimeout).toEqual({ max: 60_000, min: 50, default: 5000 })
    expect(defaultServicePolicy(policy, 'unlisted').inboundTimeout).toEqual({ max: 60_000, min: 0, default: 5000 })
  })

  it('refuses a minimum longer than the maximum, once merged, at the level that set it', () => {
    const doc = {
      apiVersion: 'weft.dev/v1',
      defaults: { inboundTimeout: { max: '1s' } },
      services: { payments: { inboundTimeout: { min: '2s' } } },
    }
    expect(linesOf(doc)).toEqual(['services.payments.inboundTimeout: min (2000ms) is longer than max (1000ms)'])
  })

  it('refuses a default longer than the maximum', () => {
    expect(linesOf(payments({ inboundTimeout: { default: '10m' } }))).toEqual([
      'services.payments.inboundTimeout: default (600000ms) is longer than max (300000ms)',
    ])
  })

  it('refuses a maximum or default of 0 and a negative minimum, naming the field', () => {
    expect(linesOf(payments({ inboundTimeout: { max: 0, min: '-1s', default: '0ms' } }))).toEqual([
      'services.payments.inboundTimeout.max: must be longer than 0',
      expect.stringMatching(/^services\.payments\.inboundTimeout\.min: /),
      'services.payments.inboundTimeout.default: must be longer than 0',
    ])
  })

  it('refuses an unknown key inside it, with a hint', () => {
    expect(linesOf(payments({ inboundTimeout: { maximum: '1s' } }))[0]).toMatch(/^services\.payments\.inboundTimeout\.maximum: /)
  })
})

describe('routes', () => {
  it('takes several match blocks (OR), with methods upper-cased, query matchers and absent headers', () => {
    const r = route({
      match: [
        { path: { regex: '/v[0-9]+/x' }, methods: ['get', 'HEAD'] },
        { headers: { 'x-debug': { absent: true } }, query: { beta: { present: true } } },
      ],
    })
    expect(r?.match).toEqual([
      { path: { regex: '/v[0-9]+/x' }, methods: ['GET', 'HEAD'], headers: {}, query: {} },
      { path: undefined, methods: undefined, headers: { 'x-debug': { present: false } }, query: { beta: { present: true } } },
    ])
  })

  it('refuses an empty list of match blocks', () => {
    expect(linesOf(payments({ routes: [{ match: [] }] }))[0]).toBe('services.payments.routes[0].match: must list at least 1 item')
  })

  it('refuses a matcher with two kinds', () => {
    expect(linesOf(payments({ routes: [{ match: { path: { exact: '/a', prefix: '/b' } } }] }))).toEqual([
      'services.payments.routes[0].match.path: takes one of exact, prefix, regex, not exact and prefix',
    ])
  })

  it('refuses a path that does not start with /', () => {
    expect(linesOf(payments({ routes: [{ match: { path: 'charge' } }] }))).toEqual([
      'services.payments.routes[0].match.path: path must start with "/"',
    ])
  })

  it('refuses present on a path', () => {
    expect(linesOf(payments({ routes: [{ match: { path: { present: true } } }] }))).toEqual([
      'services.payments.routes[0].match.path.present: unknown key (not allowed here)',
      'services.payments.routes[0].match.path: needs one of exact, prefix, regex',
    ])
  })

  it('takes a hedge with a fixed delay, and at most two tries by default', () => {
    expect(route({ hedge: { delay: '50ms' } })?.hedge).toEqual({ delay: 50, percentile: undefined, maxAttempts: 2 })
  })

  it('takes a hedge at a latency percentile', () => {
    expect(route({ hedge: { percentile: 99, maxAttempts: 3 } })?.hedge).toEqual({ delay: undefined, percentile: 99, maxAttempts: 3 })
  })

  it('refuses a hedge with both a delay and a percentile', () => {
    expect(linesOf(payments({ routes: [{ hedge: { delay: '10ms', percentile: 99 } }] }))).toEqual([
      'services.payments.routes[0].hedge: takes one of delay, percentile, not delay and percentile',
    ])
  })

  it('takes a sticky split and a mirror at 100 % by default', () => {
    const r = route(
      { split: [{ subset: 'v1', weight: 3 }, { subset: 'v2' }], sticky: { cookie: 'session' }, mirror: { subset: 'v2' } },
      { subsets: { v1: { version: 'v1' }, v2: { version: 'v2' } } },
    )
    expect(r?.split).toEqual([
      { subset: 'v1', weight: 3 },
      { subset: 'v2', weight: 1 },
    ])
    expect(r?.sticky).toEqual({ cookie: 'session' })
    expect(r?.mirror).toEqual({ subset: 'v2', percent: 100 })
  })

  it('refuses sticky without a split', () => {
    expect(linesOf(payments({ routes: [{ sticky: { header: 'x-user' } }] }))).toEqual([
      'services.payments.routes[0].sticky: sticky needs a split to stick to',
    ])
  })

  it('takes fault injection from Envoy’s headers alone, with a cap on concurrent faults', () => {
    expect(route({ fault: { headers: true, maxActive: 10 } })?.fault).toEqual({
      abort: undefined,
      delay: undefined,
      maxActive: 10,
      headers: true,
    })
  })

  it('refuses a fault that injects nothing', () => {
    expect(linesOf(payments({ routes: [{ fault: { maxActive: 1 } }] }))).toEqual([
      'services.payments.routes[0].fault: needs abort, delay or headers: true',
    ])
  })

  it('refuses an abort without a percent', () => {
    expect(linesOf(payments({ routes: [{ fault: { abort: { status: 503 } } }] }))).toEqual([
      'services.payments.routes[0].fault.abort.percent: required',
    ])
  })

  it('refuses a route name that would not make a metric label', () => {
    expect(linesOf(payments({ routes: [{ name: 'charge it!' }] }))[0]).toContain(
      'services.payments.routes[0].name: route name must be 1-63 letters',
    )
  })
})

describe('endpoints and discovery', () => {
  it('takes endpoints with weights and labels', () => {
    expect(service({ endpoints: [{ address: 'payments.internal:8443', weight: 3, labels: { zone: 'a' } }] }).endpoints).toEqual([
      { address: 'payments.internal:8443', host: 'payments.internal', port: 8443, labels: { zone: 'a' }, weight: 3 },
    ])
  })

  it('refuses an endpoint weight of 0', () => {
    expect(linesOf(payments({ endpoints: [{ address: '127.0.0.1:1', weight: 0 }] }))).toEqual([
      'services.payments.endpoints[0].weight: must be greater than 0, got number 0',
    ])
  })

  it('takes DNS discovery, A records by default', () => {
    expect(
      service({ discovery: { dns: { name: 'payments.internal', port: 8080, resolver: '127.0.0.1:5353', refresh: '30s' } } }).discovery,
    ).toEqual({
      dns: { name: 'payments.internal', type: 'A', port: 8080, resolver: '127.0.0.1:5353', refresh: 30_000 },
    })
  })

  it('takes SRV discovery without a port', () => {
    expect(service({ discovery: { dns: { name: '_http._tcp.payments.internal', type: 'SRV' } } }).discovery?.dns?.type).toBe('SRV')
  })

  it('refuses A-record discovery without a port', () => {
    expect(linesOf(payments({ discovery: { dns: { name: 'payments.internal' } } }))).toEqual([
      'services.payments.discovery.dns.port: port is required for A records',
    ])
  })

  it('refuses a resolver given as a name', () => {
    expect(linesOf(payments({ discovery: { dns: { name: 'p.internal', port: 80, resolver: 'dns.internal:53' } } }))[0]).toContain(
      'services.payments.discovery.dns.resolver: resolver must be an IP address',
    )
  })

  it('takes file discovery', () => {
    expect(service({ discovery: { file: { path: './endpoints.json' } } }).discovery).toEqual({ file: { path: './endpoints.json' } })
  })

  it('refuses discovery with both dns and file', () => {
    expect(linesOf(payments({ discovery: { dns: { name: 'a.b', port: 1 }, file: { path: 'x' } } }))).toEqual([
      'services.payments.discovery: takes one of dns, file, not dns and file',
    ])
  })
})

describe('identity and authorization', () => {
  it('takes an expected identity pattern', () => {
    expect(service({ identity: 'spiffe://weft.local/ns/*/sa/payments' }).identity).toBe('spiffe://weft.local/ns/*/sa/payments')
  })

  it('refuses an identity that is not a SPIFFE ID', () => {
    expect(linesOf(payments({ identity: 'payments' }))[0]).toContain('services.payments.identity: identity must be a SPIFFE ID')
  })

  it('takes rules with every field, actions upper-case', () => {
    expect(
      service({
        authorization: [
          { action: 'DENY', from: ['*'], to: { paths: ['/admin/*'] } },
          { action: 'AUDIT', namespaces: ['batch'], to: { methods: ['get'] }, when: { headers: { 'X-Tenant': { prefix: 'acme-' } } } },
        ],
      }).authorization,
    ).toEqual([
      { action: 'DENY', from: ['*'], namespaces: undefined, to: { paths: ['/admin/*'], methods: undefined }, when: undefined },
      {
        action: 'AUDIT',
        from: undefined,
        namespaces: ['batch'],
        to: { paths: undefined, methods: ['GET'] },
        when: { headers: { 'x-tenant': { prefix: 'acme-' } } },
      },
    ])
  })

  it('refuses an unknown action', () => {
    expect(linesOf(payments({ authorization: [{ action: 'allow' }] }))).toEqual([
      'services.payments.authorization[0].action: expected "ALLOW" or "DENY" or "AUDIT", got string "allow"',
    ])
  })

  it('refuses a principal that is neither a SPIFFE ID nor a pattern', () => {
    expect(linesOf(payments({ authorization: [{ from: ['checkout'] }] }))[0]).toContain(
      'services.payments.authorization[0].from[0]: principal must be a SPIFFE ID',
    )
  })
})
