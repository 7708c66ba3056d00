import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES, isWeftError, WeftError, weftErrorOf } from '../src/index.js'

describe('WeftError', () => {
  it('carries a stable code, the details and the cause', () => {
    const cause = new Error('socket hang up')
    const err = new WeftError('WEFT_RETRY_BUDGET_EXHAUSTED', 'retry budget for payments exhausted', {
      cause,
      details: { service: 'payments', attempt: 2 },
    })
    expect(err.code).toBe('WEFT_RETRY_BUDGET_EXHAUSTED')
    expect(err.cause).toBe(cause)
    expect(err.details).toEqual({ service: 'payments', attempt: 2 })
    expect(err.status).toBe(503)
    expect(err).toBeInstanceOf(Error)
  })

  it('is recognised across duplicate installs by its brand, not its class', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('weft.error')]: true, code: 'WEFT_CIRCUIT_OPEN' })
    expect(isWeftError(foreign)).toBe(true)
    expect(isWeftError(new Error('x'))).toBe(false)
    expect(isWeftError(null)).toBe(false)
    expect(isWeftError('WEFT_CIRCUIT_OPEN')).toBe(false)
  })

  it('weftErrorOf finds the WeftError behind fetch’s TypeError', () => {
    const inner = new WeftError('WEFT_DEADLINE_EXCEEDED', 'deadline exceeded')
    const wrapped = new TypeError('fetch failed', { cause: inner })
    expect(weftErrorOf(wrapped)).toBe(inner)
    expect(weftErrorOf(inner)).toBe(inner)
    expect(weftErrorOf(new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') }))).toBeUndefined()
  })

  it('weftErrorOf survives a cause cycle', () => {
    const a: { cause?: unknown } = {}
    a.cause = a
    expect(weftErrorOf(a)).toBeUndefined()
  })
})

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8')
  const documented = new Set([...doc.matchAll(/^\| `(WEFT_[A-Z_]+)` \|/gm)].map((m) => m[1]))

  it('documents every code in the registry', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(documented, `${code} missing from docs/errors.md`).toContain(code)
  })

  it('documents no code the registry lacks', () => {
    for (const code of documented) expect(Object.keys(ERROR_CODES), `${code} is documented but not in ERROR_CODES`).toContain(code)
  })
})
