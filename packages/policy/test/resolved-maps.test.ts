/**
 * BAD-INPUT.md, "Policy documents": merging mesh → service → route builds its maps without a
 * prototype chain, so a user-chosen name that matches an Object.prototype member reads as absent.
 */
import { describe, expect, it } from 'vitest'
import { parsePolicy } from '../src/index.js'
import { payments } from './helpers.js'

describe('the maps of a resolved policy', () => {
  const policy = parsePolicy(
    payments({
      endpoints: [{ address: '127.0.0.1:1', labels: { version: 'v1' } }],
      subsets: { v1: { version: 'v1' } },
      routes: [{ match: { headers: { 'x-version': 'v1' }, query: { q: 'a' } }, split: [{ subset: 'v1' }] }],
    }),
  )
  const service = policy.services.payments
  const match = service?.routes[0]?.match[0]

  it.each([
    ['services', policy.services],
    ['endpoint labels', service?.endpoints?.[0]?.labels],
    ['subsets', service?.subsets],
    ['a subset’s labels', service?.subsets.v1],
    ['match headers', match?.headers],
    ['match query', match?.query],
  ])('%s have no prototype: toString, hasOwnProperty and valueOf read as absent', (_name, map) => {
    expect(map).toBeDefined()
    expect(Object.getPrototypeOf(map)).toBeNull()
    for (const name of ['toString', 'hasOwnProperty', 'valueOf']) expect((map as Record<string, unknown>)[name]).toBeUndefined()
  })
})
