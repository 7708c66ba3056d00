/**
 * Property tests of the deadline header codec: whatever a caller sends, it never throws; exactly the
 * documented shapes are accepted (`^[0-9]{1,10}$` for x-weft-timeout, `^[0-9]{1,8}[HMSmun]$` for
 * grpc-timeout) and the smallest valid budget wins. Seeded, so a failure repeats.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseGrpcTimeout, parseMillis, readTimeoutHeaders } from '../src/header-codec.js'

const RUNS = { numRuns: 5000, seed: 20261204 }
const digitsAndMore = fc.string({
  unit: fc.constantFrom(...'0123456789', ' ', '-', '+', '.', 'e', 'x', 'H', 'M', 'S', 'm', 'u', 'n', '\t'),
  maxLength: 14,
})
const anyValue = fc.oneof(
  digitsAndMore,
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.array(digitsAndMore, { maxLength: 3 }),
  fc.integer(),
  fc.constant(undefined),
)

describe('deadline headers, on any input', () => {
  it('x-weft-timeout is accepted exactly when it is 1 to 10 digits, and read as that many ms', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const ms = parseMillis(value)
        const valid = typeof value === 'string' && /^[0-9]{1,10}$/.test(value)
        expect(ms).toBe(valid ? Number(value) : undefined)
      }),
      RUNS,
    )
  })

  it('grpc-timeout is accepted exactly when it is 1 to 8 digits and a unit, and read as whole ms rounded down', () => {
    const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }
    fc.assert(
      fc.property(anyValue, (value) => {
        const ms = parseGrpcTimeout(value)
        const valid = typeof value === 'string' && /^[0-9]{1,8}[HMSmun]$/.test(value)
        if (!valid) {
          expect(ms).toBeUndefined()
          return
        }
        const s = value as string
        expect(ms).toBe(Math.floor(Number(s.slice(0, -1)) * (unitMs[s.slice(-1)] as number) + 1e-9))
      }),
      RUNS,
    )
  })

  it('any set of deadline headers never throws, reports each invalid one, and keeps the smallest valid budget', () => {
    fc.assert(
      fc.property(anyValue, anyValue, anyValue, (weft, grpc, envoy) => {
        const headers: Record<string, unknown> = {}
        if (weft !== undefined) headers['x-weft-timeout'] = weft
        if (grpc !== undefined) headers['grpc-timeout'] = grpc
        if (envoy !== undefined) headers['x-envoy-expected-rq-timeout-ms'] = envoy
        const invalid: string[] = []
        const best = readTimeoutHeaders(headers, (name, shown) => {
          invalid.push(name)
          expect(shown.length).toBeLessThanOrEqual(65)
        })
        const budgets = [parseMillis(weft), parseGrpcTimeout(grpc), parseMillis(envoy) || undefined].filter((b) => b !== undefined)
        expect(best).toBe(budgets.length === 0 ? undefined : Math.min(...budgets))
        const given = [weft, grpc, envoy].filter((v) => v !== undefined).length
        expect(invalid.length).toBe(
          given - [parseMillis(weft), parseGrpcTimeout(grpc), parseMillis(envoy)].filter((b) => b !== undefined).length,
        )
      }),
      RUNS,
    )
  })
})
