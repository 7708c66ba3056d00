/**
 * BAD-INPUT.md, "Header injection": every policy field that names a header or holds a value matched
 * against a request refuses what a request could not carry (CR, LF, other control characters), at load.
 */
import { describe, expect, it } from 'vitest'
import { issuesOf, payments } from './helpers.js'

const pathsOf = (doc: object) => issuesOf(doc).map((i) => i.path)

describe('header names and values outside match.headers', () => {
  it.each([
    ['loadBalancer.hashOn.header', { loadBalancer: { type: 'ring-hash', hashOn: { header: 'x-user\r\nx-admin: yes' } } }],
    ['loadBalancer.hashOn.cookie', { loadBalancer: { type: 'ring-hash', hashOn: { cookie: 'sid\r\n' } } }],
    [
      'routes[0].sticky.header',
      { subsets: { v1: { version: 'v1' } }, routes: [{ split: [{ subset: 'v1', weight: 1 }], sticky: { header: 'x-user\n' } }] },
    ],
    ['routes[0].hashOn.header', { routes: [{ hashOn: { header: 'x user' } }] }],
  ])('a %s that is not an HTTP token is refused, naming the field', (path, fields) => {
    expect(pathsOf(payments(fields))).toEqual([`services.payments.${path}`])
  })

  it('a control character in a query value a route matches on is refused', () => {
    expect(pathsOf(payments({ routes: [{ match: { query: { q: 'a\u0000b' } } }] }))).toEqual(['services.payments.routes[0].match.query.q'])
  })

  it('a control character in a query parameter name is refused', () => {
    expect(pathsOf(payments({ routes: [{ match: { query: { 'q\r\n': 'a' } } }] }))).toEqual([
      'services.payments.routes[0].match.query["q\\r\\n"]',
    ])
  })
})
