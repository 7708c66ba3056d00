import { describe, expect, it } from 'vitest'
import { classify, errorKind, nothingSent, outcomeKind, WeftError } from '../src/index.js'
import { fakeCall, okReply } from './helpers.js'

const call = fakeCall()
const err = (code: string) => Object.assign(new Error(code), { code })

describe('the shared classifier', () => {
  it('a 2xx, 3xx or 4xx reply is a success for the mesh', () => {
    for (const s of [200, 204, 301, 404, 429]) expect(classify(call, { reply: okReply(s) })).toBe('success')
  })

  it('gateway errors are retryable, other 5xx are failures', () => {
    for (const s of [502, 503, 504]) expect(classify(call, { reply: okReply(s) })).toBe('retryable')
    for (const s of [500, 501, 507]) expect(classify(call, { reply: okReply(s) })).toBe('failure')
  })

  it('names transport failures in the words of retries.on', () => {
    expect(errorKind(err('ECONNREFUSED'))).toBe('connect-failure')
    expect(errorKind(err('UND_ERR_SOCKET'))).toBe('reset')
    expect(errorKind(err('ECONNRESET'))).toBe('reset')
    expect(errorKind(err('UND_ERR_HEADERS_TIMEOUT'))).toBe('timeout')
    expect(errorKind(new Error('weird'))).toBe('error')
  })

  it('looks through a WeftError to the transport cause, or at its kind', () => {
    const wrapped = new WeftError('WEFT_UPSTREAM_FAILURE', 'connect failed', { cause: err('ECONNREFUSED') })
    expect(outcomeKind({ error: wrapped })).toBe('connect-failure')
    expect(errorKind(new WeftError('WEFT_DEADLINE_EXCEEDED', 'late'))).toBe('deadline')
    expect(errorKind(new WeftError('WEFT_CIRCUIT_OPEN', 'open'))).toBe('circuit-open')
    expect(errorKind(new WeftError('WEFT_UPSTREAM_FAILURE', 'x', { details: { kind: 'reset' } }))).toBe('reset')
  })

  it('a deadline and a caller abort are failures, never retryable', () => {
    expect(classify(call, { error: new WeftError('WEFT_DEADLINE_EXCEEDED', 'late') })).toBe('failure')
    expect(classify(call, { error: Object.assign(new Error('aborted'), { name: 'AbortError' }) })).toBe('failure')
  })

  it('only a connect failure proves nothing was sent', () => {
    expect(nothingSent({ error: err('ECONNREFUSED') })).toBe(true)
    expect(nothingSent({ error: err('ECONNRESET') })).toBe(false)
    expect(nothingSent({ reply: okReply(503) })).toBe(false)
  })
})
