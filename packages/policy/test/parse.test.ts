import { describe, expect, it } from 'vitest'
import { POLICY_DEFAULTS, parsePolicy, resolveService } from '../src/index.js'
import { fixture, payments, withServices } from './helpers.js'

describe('the DESIGN.md example document', () => {
  const policy = parsePolicy(fixture('design-example.yaml'))
  const service = resolveService(policy, 'payments')

  it('parses, and lists its one service', () => {
    expect(policy.apiVersion).toBe('weft.dev/v1')
    expect(Object.keys(policy.services)).toEqual(['payments'])
  })

  it('gives the service the mesh defaults it sets, in milliseconds', () => {
    expect(service?.timeout).toBe(2000)
    expect(service?.retries).toEqual({
      attempts: 3,
      perTryTimeout: 500,
      on: ['connect-failure', 'reset', 502, 503, 504],
      backoff: { base: 25, max: 250 },
      budget: { ratio: 0.2, minPerSecond: 10, window: 10_000 },
      unsafe: false,
      bufferLimit: 65_536,
    })
    expect(service?.loadBalancer.type).toBe('ewma')
    expect(service?.outlierDetection).toEqual({
      ...POLICY_DEFAULTS.outlierDetection,
      consecutive5xx: 5,
      interval: 10_000,
      baseEjectionTime: 30_000,
      maxEjectionPercent: 50,
    })
  })

  it('fills in what the document leaves out with POLICY_DEFAULTS', () => {
    expect(service?.circuitBreaker).toEqual(POLICY_DEFAULTS.circuitBreaker)
    expect(service?.concurrency).toEqual({ maxInFlight: Number.POSITIVE_INFINITY, maxPending: 0 })
    expect(service?.loadBalancer).toEqual({
      type: 'ewma',
      decay: 10_000,
      defaultRtt: 30,
      activeRequestBias: 1,
      slowStartWindow: undefined,
      hashOn: undefined,
    })
  })

  it('parses endpoints into host, port, labels and a default weight of 1', () => {
    expect(service?.endpoints).toEqual([
      { address: '127.0.0.1:8081', host: '127.0.0.1', port: 8081, labels: { version: 'v1' }, weight: 1 },
      { address: '127.0.0.1:8082', host: '127.0.0.1', port: 8082, labels: { version: 'v2' }, weight: 1 },
    ])
    expect(service?.mtls).toBe('STRICT')
    expect(service?.subsets).toEqual({ v1: { version: 'v1' }, v2: { version: 'v2' } })
  })

  it('keeps the routes in order, named route-<index>, and ends them with a catch-all named default', () => {
    expect(service?.routes.map((r) => r.name)).toEqual(['route-0', 'route-1', 'default'])
    expect(service?.routes[2]?.match).toEqual([])
  })

  it('resolves the header route: a header matcher from a plain string, and a split to v2', () => {
    const route = service?.routes[0]
    expect(route?.match).toEqual([{ path: undefined, methods: undefined, headers: { 'x-version': { exact: 'v2' } }, query: {} }])
    expect(route?.split).toEqual([{ subset: 'v2', weight: 100 }])
    expect(route?.timeout).toBe(2000)
  })

  it('resolves the /charge route: its own timeout, one attempt, the rest of retries inherited, split and fault', () => {
    const route = service?.routes[1]
    expect(route?.match).toEqual([{ path: { prefix: '/charge' }, methods: ['POST'], headers: {}, query: {} }])
    expect(route?.timeout).toBe(5000)
    expect(route?.retries).toEqual({ ...service?.retries, attempts: 1 })
    expect(route?.split).toEqual([
      { subset: 'v1', weight: 90 },
      { subset: 'v2', weight: 10 },
    ])
    expect(route?.fault).toEqual({
      abort: { status: 503, percent: 1 },
      delay: { fixed: 100, percent: 5 },
      maxActive: Number.POSITIVE_INFINITY,
      headers: false,
    })
  })

  it('resolves the authorization rule with ALLOW as its action', () => {
    expect(service?.authorization).toEqual([
      {
        action: 'ALLOW',
        from: ['spiffe://weft.local/ns/default/sa/checkout'],
        namespaces: undefined,
        to: { paths: ['/charge'], methods: ['POST'] },
        when: undefined,
      },
    ])
  })

  it('keeps the document as validated, before defaults', () => {
    expect((policy.document as { defaults: { timeout: string } }).defaults.timeout).toBe('2s')
  })
})

describe('a document with every field docs/policy.md describes', () => {
  const policy = parsePolicy(fixture('every-field.yaml'))

  it('parses', () => {
    expect(Object.keys(policy.services)).toEqual(['payments', 'inventory', 'ledger', 'search'])
  })

  it('gives defaults.mtls to the services that do not set their own', () => {
    expect(Object.values(policy.services).map((s) => s.mtls)).toEqual(['PERMISSIVE', 'STRICT', 'STRICT', 'STRICT'])
  })

  it('gives defaults.inboundTimeout to every service, a service changing only what it sets', () => {
    expect(resolveService(policy, 'payments')?.inboundTimeout).toEqual({ max: 300_000, min: 100, default: 30_000 })
    expect(resolveService(policy, 'search')?.inboundTimeout).toEqual({ max: 300_000, min: 0, default: 30_000 })
  })

  it('names the routes as given or by position, and adds the catch-all only where needed', () => {
    expect(resolveService(policy, 'payments')?.routes.map((r) => r.name)).toEqual(['charge', 'route-1', 'route-2', 'default'])
    expect(resolveService(policy, 'search')?.routes.map((r) => r.name)).toEqual(['route-0'])
  })
})

describe('JSON and YAML', () => {
  it('give the same Policy for the same document', () => {
    const fromYaml = parsePolicy(fixture('design-example.yaml'))
    const fromJson = parsePolicy(fixture('design-example.json'))
    expect(fromJson).toEqual(fromYaml)
    expect(fromJson.version).toBe(fromYaml.version)
  })

  it('give the same Policy as the document passed as an object', () => {
    const fromJson = parsePolicy(fixture('design-example.json'))
    expect(parsePolicy(JSON.parse(fixture('design-example.json')))).toEqual(fromJson)
  })
})

describe('the version', () => {
  const doc = payments({ endpoints: ['127.0.0.1:8081'] })

  it('is a 12-hex-digit content hash', () => {
    expect(parsePolicy(doc).version).toMatch(/^[0-9a-f]{12}$/)
  })

  it('is stable: the same content gives the same version, whatever the key order', () => {
    const reordered = { services: doc.services, apiVersion: 'weft.dev/v1' }
    expect(parsePolicy(reordered).version).toBe(parsePolicy(doc).version)
  })

  it('changes when the content changes', () => {
    expect(parsePolicy(payments({ endpoints: ['127.0.0.1:8082'] })).version).not.toBe(parsePolicy(doc).version)
  })

  it('is the version option when one is given (the control plane’s)', () => {
    expect(parsePolicy(doc, { version: 'v42' }).version).toBe('v42')
  })
})

describe('defaults and inheritance', () => {
  it('services: {} is a valid document with no services', () => {
    expect(parsePolicy({ apiVersion: 'weft.dev/v1', services: {} }).services).toEqual({})
  })

  it('a service with no fields gets POLICY_DEFAULTS and one catch-all route', () => {
    const s = resolveService(parsePolicy(withServices({ payments: {} })), 'payments')
    expect(s?.retries).toEqual(POLICY_DEFAULTS.retries)
    expect(s?.timeout).toBeUndefined()
    expect(s?.mtls).toBe('PERMISSIVE')
    expect(s?.outlierDetection).toEqual(POLICY_DEFAULTS.outlierDetection)
    expect(s?.circuitBreaker).toEqual(POLICY_DEFAULTS.circuitBreaker)
    expect(s?.routes).toEqual([
      {
        name: 'default',
        match: [],
        timeout: undefined,
        retries: POLICY_DEFAULTS.retries,
        hedge: undefined,
        split: undefined,
        sticky: undefined,
        fault: undefined,
        mirror: undefined,
        hashOn: undefined,
      },
    ])
  })

  it('a route’s retries: { attempts: 1 } keeps the service’s on, backoff and budget', () => {
    const s = resolveService(
      parsePolicy(
        payments({
          retries: { on: [503], backoff: { base: '10ms' }, budget: { ratio: 0.5 } },
          routes: [{ match: { path: '/once' }, retries: { attempts: 1 } }],
        }),
      ),
      'payments',
    )
    expect(s?.routes[0]?.retries).toEqual({
      ...POLICY_DEFAULTS.retries,
      attempts: 1,
      on: [503],
      backoff: { base: 10, max: 250 },
      budget: { ratio: 0.5, minPerSecond: 10, window: 10_000 },
    })
  })

  it('a service inherits from defaults field by field, and overrides only what it sets', () => {
    const policy = parsePolicy(
      withServices(
        { payments: { retries: { attempts: 5 }, loadBalancer: 'round-robin', circuitBreaker: { minimumRequests: 50 } } },
        {
          defaults: {
            timeout: '1s',
            retries: { perTryTimeout: '300ms' },
            loadBalancer: { decay: '5s' },
            circuitBreaker: { failurePercent: 25 },
          },
        },
      ),
    )
    const s = resolveService(policy, 'payments')
    expect(s?.timeout).toBe(1000)
    expect(s?.retries.attempts).toBe(5)
    expect(s?.retries.perTryTimeout).toBe(300)
    expect(s?.loadBalancer).toMatchObject({ type: 'round-robin', decay: 5000 })
    expect(s?.circuitBreaker).toEqual({ ...POLICY_DEFAULTS.circuitBreaker, failurePercent: 25, minimumRequests: 50 })
  })

  it('routes inherit the service timeout and may set their own', () => {
    const s = resolveService(
      parsePolicy(payments({ timeout: '3s', routes: [{ match: { path: '/slow' }, timeout: '10s' }, { match: { path: '/fast' } }] })),
      'payments',
    )
    expect(s?.routes.map((r) => r.timeout)).toEqual([10_000, 3000, 3000])
  })

  it('outlierDetection: false and circuitBreaker: false turn them off', () => {
    const s = resolveService(parsePolicy(payments({ outlierDetection: false, circuitBreaker: false })), 'payments')
    expect(s?.outlierDetection).toBe(false)
    expect(s?.circuitBreaker).toBe(false)
  })

  it('a service turns back on what defaults turned off, with the built-in settings under its own', () => {
    const policy = parsePolicy(
      withServices({ payments: { circuitBreaker: { halfOpenRequests: 3 } } }, { defaults: { circuitBreaker: false } }),
    )
    expect(resolveService(policy, 'payments')?.circuitBreaker).toEqual({ ...POLICY_DEFAULTS.circuitBreaker, halfOpenRequests: 3 })
  })

  it('successRate: {} turns success-rate ejection on with Envoy’s defaults', () => {
    const s = resolveService(
      parsePolicy(payments({ outlierDetection: { successRate: {}, failurePercentage: { threshold: 70 } } })),
      'payments',
    )
    expect(s?.outlierDetection).toMatchObject({
      successRate: { minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 },
      failurePercentage: { threshold: 70, minimumHosts: 5, requestVolume: 50 },
    })
  })

  it('defaults.mtls sets the mode of every service that does not set its own', () => {
    const policy = parsePolicy(withServices({ batch: { mtls: 'PERMISSIVE' }, payments: {} }, { defaults: { mtls: 'STRICT' } }))
    expect(resolveService(policy, 'payments')?.mtls).toBe('STRICT')
    expect(resolveService(policy, 'batch')?.mtls).toBe('PERMISSIVE')
  })

  it('a last route without match is the catch-all: no default route is added after it', () => {
    const s = resolveService(parsePolicy(payments({ routes: [{ match: { path: '/a' } }, { name: 'rest', timeout: '1s' }] })), 'payments')
    expect(s?.routes.map((r) => r.name)).toEqual(['route-0', 'rest'])
  })
})

describe('the resolved shape', () => {
  const policy = parsePolicy(fixture('design-example.yaml'))
  const service = resolveService(policy, 'payments')

  it('has maps without a prototype, so a key like constructor is just absent', () => {
    expect(Object.getPrototypeOf(policy.services)).toBeNull()
    expect(Object.getPrototypeOf(service?.subsets)).toBeNull()
    expect(Object.getPrototypeOf(service?.endpoints[0]?.labels)).toBeNull()
    expect(Object.getPrototypeOf(service?.routes[0]?.match[0]?.headers)).toBeNull()
    expect((policy.services as Record<string, unknown>).constructor).toBeUndefined()
  })

  it('is frozen: a layer cannot change the policy another layer reads', () => {
    expect(Object.isFrozen(policy)).toBe(true)
    expect(Object.isFrozen(service?.routes)).toBe(true)
    expect(Object.isFrozen(service?.retries.on)).toBe(true)
  })
})
