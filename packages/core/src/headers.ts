/** The header names of weft's wire format, and the copy a layer makes of a call's headers to change them. */
import type { HeaderMap } from './call.js'

/** Remaining time budget in integer milliseconds, relative so clocks need not agree. */
export const TIMEOUT_HEADER = 'x-weft-timeout'
/** Attempt number, 1 for the first try. */
export const ATTEMPT_HEADER = 'x-weft-attempt'
/** Marks a POST/PATCH as safe to retry. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'
/** Every header a deadline is read from, ours first. */
export const DEADLINE_HEADERS = [TIMEOUT_HEADER, 'grpc-timeout', 'x-envoy-expected-rq-timeout-ms'] as const
/** W3C trace context and baggage. */
export const TRACE_HEADERS = ['traceparent', 'tracestate', 'baggage'] as const

/**
 * A copy of a header map as a plain object, for a layer to change (a call's headers are never
 * changed in place). Plain, so the next copy is cheap: spreading a null-prototype (dictionary-mode)
 * object is about 4× slower than this loop. A `__proto__` header is defined, never assigned.
 */
export function copyHeaders<T extends Readonly<HeaderMap> | Readonly<Record<string, unknown>>>(
  headers: T,
): { -readonly [K in keyof T]: T[K] } {
  if (Object.getPrototypeOf(headers) !== null) return { ...headers }
  const out: Record<string, unknown> = {}
  const keys = Object.keys(headers)
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string
    const v = (headers as Record<string, unknown>)[k]
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
    else out[k] = v
  }
  return out as { -readonly [K in keyof T]: T[K] }
}
