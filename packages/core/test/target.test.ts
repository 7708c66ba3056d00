import { describe, expect, it } from 'vitest'
import { originForm } from '../src/index.js'

describe('originForm', () => {
  it('returns an origin-form target as it is', () => {
    const target = '/orders/42?x=1'
    expect(originForm(target)).toBe(target)
  })

  it.each([
    ['http://payments/admin', '/admin'],
    ['https://payments:8443/admin?x=1', '/admin?x=1'],
    ['HTTP://payments/admin', '/admin'],
    ['http://payments', '/'],
    ['http://payments?x=1', '/?x=1'],
    ['http://user@payments/admin#top', '/admin#top'],
  ])('turns the absolute-form target %s into %s', (target, path) => {
    expect(originForm(target)).toBe(path)
  })

  it.each(['*', '', 'admin', '1http://x/admin', '://x/admin'])('leaves %j, which is neither form, as it is', (target) => {
    expect(originForm(target)).toBe(target)
  })
})
