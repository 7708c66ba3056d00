import { describe, expect, it } from 'vitest'
import { formatGrpcTimeout, formatMillis, parseGrpcTimeout, parseMillis, readTimeoutHeaders } from '../src/index.js'

describe('reading x-weft-timeout', () => {
  it.each([
    ['0', 0],
    ['1', 1],
    ['250', 250],
    ['0000000300', 300],
    ['9999999999', 9_999_999_999],
  ])('accepts %j as %d ms', (value, ms) => {
    expect(parseMillis(value)).toBe(ms)
  })

  it.each(['abc', 'NaN', '1e3', '0x10', ' 100', '100 ', '100ms', '-5', '', '+5', '1.5', '1e309', '99999999999', 'x'.repeat(10_240)])(
    'ignores %j',
    (value) => {
      expect(parseMillis(value)).toBeUndefined()
    },
  )

  it('ignores a repeated header (Node joins it, or hands an array)', () => {
    expect(parseMillis('100, 200')).toBeUndefined()
    expect(parseMillis(['100', '200'])).toBeUndefined()
  })
})

describe('reading grpc-timeout', () => {
  it.each([
    ['1H', 3_600_000],
    ['2M', 120_000],
    ['3S', 3000],
    ['250m', 250],
    ['1500u', 1],
    ['2500000n', 2],
    ['99999999m', 99_999_999],
  ])('accepts %j as %d ms', (value, ms) => {
    expect(parseGrpcTimeout(value)).toBe(ms)
  })

  it('rounds a sub-millisecond budget down to 0: already expired', () => {
    expect(parseGrpcTimeout('500u')).toBe(0)
  })

  it.each(['1', '100x', '123456789m', '-1S', 'S', '', ' 1S', '1s', '1.5S', 'x'.repeat(10_240)])('ignores %j', (value) => {
    expect(parseGrpcTimeout(value)).toBeUndefined()
  })
})

describe('several deadline headers', () => {
  it('the smallest valid one wins', () => {
    expect(readTimeoutHeaders({ 'x-weft-timeout': '900', 'grpc-timeout': '300m', 'x-envoy-expected-rq-timeout-ms': '600' })).toBe(300)
    expect(readTimeoutHeaders({ 'x-weft-timeout': '200', 'grpc-timeout': '1S' })).toBe(200)
    expect(readTimeoutHeaders({ 'grpc-timeout': '1S', 'x-envoy-expected-rq-timeout-ms': '40' })).toBe(40)
  })

  it('an invalid one is ignored and reported, and the valid ones still count', () => {
    const invalid: [string, string][] = []
    const ms = readTimeoutHeaders({ 'x-weft-timeout': '-5', 'grpc-timeout': '100x', 'x-envoy-expected-rq-timeout-ms': '700' }, (h, v) =>
      invalid.push([h, v]),
    )
    expect(ms).toBe(700)
    expect(invalid).toEqual([
      ['x-weft-timeout', '-5'],
      ['grpc-timeout', '100x'],
    ])
  })

  it('x-envoy-expected-rq-timeout-ms: 0 means no timeout, not expired', () => {
    expect(readTimeoutHeaders({ 'x-envoy-expected-rq-timeout-ms': '0' })).toBeUndefined()
    expect(readTimeoutHeaders({ 'x-envoy-expected-rq-timeout-ms': '0', 'x-weft-timeout': '50' })).toBe(50)
  })

  it('reports a 10 KB value cut to 64 characters', () => {
    let reported = ''
    readTimeoutHeaders({ 'x-weft-timeout': '9'.repeat(10_240) }, (_h, v) => {
      reported = v
    })
    expect(reported.length).toBeLessThanOrEqual(65)
  })

  it('none present is no deadline', () => {
    expect(readTimeoutHeaders({ host: 'payments' })).toBeUndefined()
  })
})

describe('writing the remaining budget', () => {
  it('x-weft-timeout is integer milliseconds, rounded down, at least 1', () => {
    expect(formatMillis(299.9)).toBe('299')
    expect(formatMillis(1.9)).toBe('1')
    expect(formatMillis(0.2)).toBe('1')
  })

  it('grpc-timeout is <n>m, or seconds past 8 digits', () => {
    expect(formatGrpcTimeout(299.9)).toBe('299m')
    expect(formatGrpcTimeout(0.5)).toBe('1m')
    expect(formatGrpcTimeout(99_999_999)).toBe('99999999m')
    expect(formatGrpcTimeout(100_000_000)).toBe('100000S')
  })

  it('a budget that changes between calls is never answered with the last one (the formatter remembers one value)', () => {
    const budgets = [2000, 2000, 1999.7, 2000, 150_000_000, 2000, 1]
    expect(budgets.map(formatMillis)).toEqual(['2000', '2000', '1999', '2000', '150000000', '2000', '1'])
    expect(budgets.map(formatGrpcTimeout)).toEqual(['2000m', '2000m', '1999m', '2000m', '150000S', '2000m', '1m'])
  })

  it('what it writes, it reads back', () => {
    for (const ms of [1, 7, 300, 86_400_000, 2_000_000_000]) {
      expect(parseMillis(formatMillis(ms))).toBe(ms)
      expect(parseGrpcTimeout(formatGrpcTimeout(ms))).toBeLessThanOrEqual(ms)
    }
  })
})
