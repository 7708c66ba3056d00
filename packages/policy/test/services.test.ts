import { describe, expect, it } from 'vitest'
import { defaultServicePolicy, POLICY_DEFAULTS, parsePolicy, resolveService } from '../src/index.js'
import { fixture, withServices } from './helpers.js'

describe('resolveService', () => {
  const policy = parsePolicy(fixture('design-example.yaml'))

  it('finds a listed service', () => {
    expect(resolveService(policy, 'payments')?.name).toBe('payments')
  })

  it('ignores case, as host names do', () => {
    expect(resolveService(policy, 'Payments')?.name).toBe('payments')
  })

  it('is undefined for a service the document does not list', () => {
    expect(resolveService(policy, 'inventory')).toBeUndefined()
  })

  it('is undefined for names that are Object.prototype members', () => {
    expect(resolveService(policy, 'constructor')).toBeUndefined()
    expect(resolveService(policy, '__proto__')).toBeUndefined()
    expect(resolveService(policy, 'toString')).toBeUndefined()
  })
})

describe('defaultServicePolicy', () => {
  it('gives an unlisted service the document’s defaults', () => {
    const s = defaultServicePolicy(parsePolicy(fixture('design-example.yaml')), 'checkout')
    expect(s.name).toBe('checkout')
    expect(s.timeout).toBe(2000)
    expect(s.retries.perTryTimeout).toBe(500)
    expect(s.endpoints).toEqual([])
    expect(s.authorization).toEqual([])
    expect(s.routes.map((r) => r.name)).toEqual(['default'])
    expect(s.routes[0]?.timeout).toBe(2000)
  })

  it('takes the mesh-wide mtls mode from defaults', () => {
    expect(defaultServicePolicy(parsePolicy(withServices({}, { defaults: { mtls: 'STRICT' } })), 'self').mtls).toBe('STRICT')
  })

  it('with no defaults in the document, is POLICY_DEFAULTS', () => {
    const s = defaultServicePolicy(parsePolicy(withServices({})), 'self')
    expect(s.mtls).toBe('PERMISSIVE')
    expect(s.retries).toEqual(POLICY_DEFAULTS.retries)
    expect(s.outlierDetection).toEqual(POLICY_DEFAULTS.outlierDetection)
    expect(s.circuitBreaker).toEqual(POLICY_DEFAULTS.circuitBreaker)
    expect(s.loadBalancer).toEqual(POLICY_DEFAULTS.loadBalancer)
    expect(s.concurrency).toEqual(POLICY_DEFAULTS.concurrency)
  })

  it('works on a hand-made Policy without resolved defaults', () => {
    const s = defaultServicePolicy({ apiVersion: 'weft.dev/v1', version: 'x', services: {}, document: {} }, 'self')
    expect(s.retries.attempts).toBe(3)
  })

  it('is what a listed service with no fields resolves to, but for its name', () => {
    const policy = parsePolicy(withServices({ payments: {} }, { defaults: { timeout: '1s', loadBalancer: 'round-robin' } }))
    expect(resolveService(policy, 'payments')).toEqual({ ...defaultServicePolicy(policy, 'other'), name: 'payments' })
  })
})

describe('POLICY_DEFAULTS', () => {
  it('holds the values the types document', () => {
    expect(POLICY_DEFAULTS.retries).toEqual({
      attempts: 3,
      perTryTimeout: undefined,
      on: ['connect-failure', 'reset', 502, 503, 504],
      backoff: { base: 25, max: 250 },
      budget: { ratio: 0.2, minPerSecond: 10, window: 10_000 },
      unsafe: false,
      bufferLimit: 65_536,
    })
    expect(POLICY_DEFAULTS.outlierDetection).toMatchObject({
      consecutive5xx: 5,
      consecutiveGatewayErrors: 5,
      interval: 10_000,
      baseEjectionTime: 30_000,
      maxEjectionTime: 300_000,
      maxEjectionPercent: 50,
      panicThreshold: 50,
    })
    expect(POLICY_DEFAULTS.circuitBreaker).toEqual({
      failurePercent: 50,
      minimumRequests: 20,
      window: 10_000,
      breakDuration: 30_000,
      halfOpenRequests: 1,
    })
    expect(POLICY_DEFAULTS.loadBalancer).toMatchObject({ type: 'ewma', decay: 10_000, defaultRtt: 30, activeRequestBias: 1 })
    expect(POLICY_DEFAULTS.limits).toEqual({
      maxBytes: 1_048_576,
      maxDepth: 64,
      maxStringLength: 4096,
      maxRegexLength: 256,
      maxAliasCount: 100,
    })
  })

  it('cannot be changed at run time', () => {
    expect(Object.isFrozen(POLICY_DEFAULTS.retries.on)).toBe(true)
    expect(() => {
      ;(POLICY_DEFAULTS.retries as { attempts: number }).attempts = 9
    }).toThrow(TypeError)
  })
})
