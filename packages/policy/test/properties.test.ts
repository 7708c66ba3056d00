/**
 * Property tests of the policy parser: documents built from the policy's own vocabulary with
 * values good and bad, in any shape. Whatever comes, parsePolicy answers a policy or refuses with
 * WEFT_POLICY_INVALID naming a field path, never another error; Object.prototype is never touched;
 * and the same document as JSON text gets the same verdict. Seeded, so a failure repeats.
 */
import { isWeftError } from '@weft/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { parsePolicy } from '../src/index.js'

const RUNS = { numRuns: 1500, seed: 20261204 }

const KEYS = [
  'endpoints',
  'address',
  'weight',
  'labels',
  'loadBalancer',
  'type',
  'decay',
  'defaultRtt',
  'activeRequestBias',
  'slowStartWindow',
  'hashOn',
  'header',
  'cookie',
  'retries',
  'attempts',
  'perTryTimeout',
  'retryOn',
  'backoff',
  'base',
  'max',
  'budget',
  'ratio',
  'minPerSecond',
  'window',
  'timeout',
  'circuitBreaker',
  'failurePercent',
  'minimumRequests',
  'breakDuration',
  'halfOpenRequests',
  'outlierDetection',
  'consecutive5xx',
  'consecutiveGatewayErrors',
  'interval',
  'baseEjectionTime',
  'maxEjectionTime',
  'maxEjectionPercent',
  'panicThreshold',
  'routes',
  'name',
  'match',
  'path',
  'prefix',
  'regex',
  'methods',
  'headers',
  'split',
  'subset',
  'sticky',
  'fault',
  'abort',
  'delay',
  'fixed',
  'percent',
  'status',
  'maxActive',
  'mirror',
  'hedge',
  'subsets',
  'mtls',
  'identity',
  'authorization',
  'action',
  'from',
  'to',
  'when',
  'concurrency',
  'maxInFlight',
  'maxPending',
  'discovery',
  'dns',
  'file',
  'retires',
  '__proto__',
  'constructor',
  'prototype',
]
const scalar = fc.oneof(
  fc.constantFrom(
    '250ms',
    '2s',
    '1m',
    '-1s',
    '10 s',
    '1e400ms',
    '9999999999h',
    '50%',
    '',
    'round-robin',
    'ewma',
    'maglev',
    'STRICT',
    'x\r\ny',
    '127.0.0.1:8080',
    '/api',
  ),
  fc.integer({ min: -5, max: 200 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 12 }),
)
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('object'), fc.array(tie('value'), { maxLength: 3 })),
  object: fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })), tie('value'), { maxKeys: 5 }),
}))
/** Mostly a good value, now and then a bad one. */
const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
  fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: bad, weight: 1 })
const duration = mostly(fc.constantFrom('250ms', '2s', '1m', 100), fc.constantFrom('-1s', '10 s', '1e400ms', -5))
/** A service that is valid or nearly so: real fields with good values, and now and then a bad one. */
const nearlyValidService = fc.record(
  {
    endpoints: mostly(
      fc.uniqueArray(
        fc.record(
          {
            address: mostly(
              fc.constantFrom('127.0.0.1:8081', '127.0.0.1:8082', '10.0.0.2:80', '[::1]:8080'),
              fc.constantFrom('no-port', ''),
            ),
            weight: mostly(fc.integer({ min: 1, max: 5 }), fc.constant(-1)),
          },
          { requiredKeys: ['address'] },
        ),
        { minLength: 1, maxLength: 3, selector: (e) => e.address },
      ),
      fc.constant([]),
    ),
    timeout: duration,
    loadBalancer: mostly(fc.constantFrom('round-robin', 'least-request', 'ewma', 'maglev'), fc.constant('random')),
    retries: fc.record(
      { attempts: mostly(fc.integer({ min: 1, max: 6 }), fc.constant(-1)), perTryTimeout: duration },
      { requiredKeys: [] },
    ),
    circuitBreaker: fc.oneof(
      fc.constant(false),
      fc.record(
        { failurePercent: mostly(fc.integer({ min: 1, max: 100 }), fc.constant(120)), minimumRequests: fc.integer({ min: 1, max: 50 }) },
        { requiredKeys: [] },
      ),
    ),
    routes: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom('a', 'b', 'c'),
        match: fc.record({ path: fc.record({ prefix: mostly(fc.constantFrom('/', '/api'), fc.constant('no-slash')) }) }),
        timeout: duration,
      }),
      { maxLength: 2, selector: (r) => r.name },
    ),
  },
  { requiredKeys: ['endpoints'] },
)
const nearlyValid = fc.record({
  apiVersion: fc.constant('weft.dev/v1'),
  services: fc.dictionary(fc.constantFrom('payments', 'checkout'), nearlyValidService, { minKeys: 1, maxKeys: 2 }),
})
const anyShape = fc.record(
  {
    apiVersion: fc.constantFrom('weft.dev/v1', 'weft.dev/v2', 1),
    services: fc.dictionary(fc.constantFrom('payments', 'checkout', 'Payments', '__proto__', 'a b'), value, { maxKeys: 3 }),
    defaults: value,
  },
  { requiredKeys: ['apiVersion', 'services'] },
)
const document = fc.oneof(nearlyValid, anyShape)

/** 'ok', or the refusal's issues; anything but WEFT_POLICY_INVALID fails the property. */
function verdict(input: string | object): 'ok' | { path: string; message: string }[] {
  try {
    parsePolicy(input)
    return 'ok'
  } catch (err) {
    expect(isWeftError(err) && err.code).toBe('WEFT_POLICY_INVALID')
    const issues = (err as { details: { issues: { path: string; message: string }[] } }).details.issues
    expect(issues.length).toBeGreaterThan(0)
    for (const issue of issues) {
      expect(typeof issue.path).toBe('string')
      expect(issue.message.length).toBeGreaterThan(0)
    }
    return issues
  }
}

describe('policy documents, in any shape', () => {
  it('are parsed or refused with WEFT_POLICY_INVALID and a field path, never another error, never touching Object.prototype', () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort()
    fc.assert(
      fc.property(document, (doc) => {
        verdict(doc)
        expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before)
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      }),
      RUNS,
    )
  })

  it('get the same verdict as an object, as JSON text and as YAML text', () => {
    fc.assert(
      fc.property(document, (doc) => {
        const text = JSON.stringify(doc)
        const fromObject = verdict(JSON.parse(text))
        expect(verdict(text) === 'ok').toBe(fromObject === 'ok')
        expect(verdict(stringify(JSON.parse(text))) === 'ok').toBe(fromObject === 'ok')
      }),
      RUNS,
    )
  })

  it('as arbitrary text, are refused with WEFT_POLICY_INVALID, never another error', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        verdict(text)
      }),
      RUNS,
    )
  })
})
