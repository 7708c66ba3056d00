import { describe, expect, it } from 'vitest'
import { normalizeHeaders, toRawHeaders } from '../src/headers.js'

describe('normalizeHeaders', () => {
  it('reads every shape undici and fetch hand a dispatcher, with lower-case names', () => {
    const expected = { 'x-a': '1', accept: 'text/plain', host: 'payments' }
    expect(normalizeHeaders({ 'X-A': '1', Accept: 'text/plain' }, 'payments')).toEqual(expected)
    expect(normalizeHeaders(['X-A', '1', 'Accept', 'text/plain'], 'payments')).toEqual(expected)
    expect(
      normalizeHeaders(
        [
          ['X-A', '1'],
          ['Accept', 'text/plain'],
        ],
        'payments',
      ),
    ).toEqual(expected)
    expect(
      normalizeHeaders(
        new Map([
          ['X-A', '1'],
          ['Accept', 'text/plain'],
        ]),
        'payments',
      ),
    ).toEqual(expected)
  })

  it('keeps a Host the caller set, and sets the authority otherwise', () => {
    expect(normalizeHeaders({ host: 'other' }, 'payments').host).toBe('other')
    expect(normalizeHeaders(undefined, 'payments:8080').host).toBe('payments:8080')
  })

  it('joins a repeated header into a list', () => {
    expect(normalizeHeaders(['cookie', 'a=1', 'Cookie', 'b=2'], 'x').cookie).toEqual(['a=1', 'b=2'])
  })

  it('drops a __proto__ header and never touches the prototype; constructor is an ordinary name', () => {
    const h = normalizeHeaders(JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": "c"}'), 'x')
    expect(Object.getPrototypeOf(h)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.hasOwn(h, '__proto__')).toBe(false)
    expect(h.constructor).toBe('c')
  })

  it('flattens back to the raw array fetch reads', () => {
    expect(toRawHeaders({ a: '1', b: ['2', '3'], c: undefined })).toEqual(['a', '1', 'b', '2', 'b', '3'])
  })
})
