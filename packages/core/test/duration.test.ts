import { describe, expect, it } from 'vitest'
import { formatDuration, parseDuration } from '../src/index.js'

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['2s', 2000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    [0, 0],
    [750, 750],
  ] as const)('reads %s as %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it.each(['-1s', '10 s', '1e400ms', '1e3ms', '9999999999h', 'abc', '', '5', 'NaN', ' 1s', '1s '])(
    'rejects %j with the input in the message',
    (input) => {
      expect(() => parseDuration(input)).toThrow(RangeError)
    },
  )

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])('rejects the number %d', (input) => {
    expect(() => parseDuration(input)).toThrow(RangeError)
  })

  it('formats back to the policy notation', () => {
    expect(formatDuration(250)).toBe('250ms')
    expect(formatDuration(1500)).toBe('1.5s')
    expect(formatDuration(120_000)).toBe('2m')
  })
})
