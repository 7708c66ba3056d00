import { isWeftError } from '@weft/core'
import { describe, expect, it } from 'vitest'
import { namespaceOf, parseSpiffeId, serviceSpiffeId, spiffeIdProblem, trustDomainId } from '../src/index.js'
import { compilePattern } from '../src/pattern.js'

describe('SPIFFE IDs', () => {
  it('splits a valid ID into trust domain and path', () => {
    expect(parseSpiffeId('spiffe://weft.local/ns/default/sa/checkout')).toEqual({
      id: 'spiffe://weft.local/ns/default/sa/checkout',
      trustDomain: 'weft.local',
      path: '/ns/default/sa/checkout',
    })
  })

  it('names a service the Istio way by default', () => {
    expect(serviceSpiffeId('weft.local', 'payments')).toBe('spiffe://weft.local/ns/default/sa/payments')
    expect(serviceSpiffeId('weft.local', 'payments', 'billing')).toBe('spiffe://weft.local/ns/billing/sa/payments')
    expect(namespaceOf('spiffe://weft.local/ns/billing/sa/payments')).toBe('billing')
    expect(namespaceOf('spiffe://weft.local/workload/x')).toBeUndefined()
  })

  it('accepts a trust domain ID only when asked to, as an anchor carries it', () => {
    expect(spiffeIdProblem('spiffe://weft.local')).toMatch(/path is missing/)
    expect(spiffeIdProblem('spiffe://weft.local', { requirePath: false })).toBeUndefined()
    expect(trustDomainId('weft.local')).toBe('spiffe://weft.local')
  })

  // BAD-INPUT.md, "Certificates and TLS": each is rejected with the rule it breaks
  it.each([
    ['spiffe://weft.local', /path is missing/],
    ['spiffe://Weft.Local/ns/default/sa/a', /lower-case letters/],
    ['SPIFFE://weft.local/ns/default/sa/a', /scheme/],
    ['https://weft.local/ns/default/sa/a', /scheme/],
    ['spiffe://weft.local/ns/default/sa/%61dmin', /percent-encoded/],
    ['spiffe://weft.local/ns/./sa/a', /dot segments/],
    ['spiffe://weft.local/ns/../sa/a', /dot segments/],
    ['spiffe://weft.local/ns/default/sa/a/', /trailing slash/],
    ['spiffe://weft.local/ns//sa/a', /empty segments/],
    ['spiffe://weft.local/ns/default/sa/a?admin=1', /query/],
    ['spiffe://weft.local/ns/default/sa/a#frag', /fragment/],
    ['spiffe://weft.local:8443/ns/default/sa/a', /port/],
    ['spiffe://user@weft.local/ns/default/sa/a', /userinfo/],
    ['spiffe:///ns/default/sa/a', /trust domain is missing/],
    ['spiffe://weft.local/ns/default/sa/a, URI:spiffe://weft.local/admin', /segment characters/],
    [`spiffe://weft.local/${'a'.repeat(2040)}`, /longer than 2048 bytes/],
    ['', /empty/],
  ])('rejects %s', (input, rule) => {
    expect(spiffeIdProblem(input)).toMatch(rule)
    try {
      parseSpiffeId(input)
      expect.unreachable()
    } catch (err) {
      expect(isWeftError(err) && err.code).toBe('WEFT_INVALID_ARGUMENT')
      expect((err as Error).message).toMatch(rule)
    }
  })

  it('accepts the longest ID the spec allows', () => {
    const id = `spiffe://weft.local/${'a'.repeat(2048 - 'spiffe://weft.local/'.length)}`
    expect(Buffer.byteLength(id)).toBe(2048)
    expect(spiffeIdProblem(id)).toBeUndefined()
  })
})

describe('identity patterns', () => {
  it.each([
    ['spiffe://weft.local/ns/default/sa/payments', 'spiffe://weft.local/ns/default/sa/payments', true],
    ['spiffe://weft.local/ns/default/sa/payments', 'spiffe://weft.local/ns/default/sa/payments2', false],
    ['spiffe://weft.local/ns/payments/*', 'spiffe://weft.local/ns/payments/sa/api', true],
    ['spiffe://weft.local/ns/payments/*', 'spiffe://weft.local/ns/orders/sa/api', false],
    ['*/sa/checkout', 'spiffe://weft.local/ns/default/sa/checkout', true],
    ['*/sa/checkout', 'spiffe://weft.local/ns/default/sa/checkout-batch', false],
    ['spiffe://weft.local/*/sa/*', 'spiffe://weft.local/ns/x/sa/y', true],
    ['spiffe://weft.local/*/sa/*', 'spiffe://other.local/ns/x/sa/y', false],
    ['*', 'anything', true],
    ['a*a', 'a', false],
  ])('%s matches %s: %s', (pattern, value, expected) => {
    expect(compilePattern(pattern)(value)).toBe(expected)
  })
})
