/** The header names of weft's wire format, the deadline headers' values, and the copy a layer makes of a call's headers to change them. */
import type { HeaderMap } from './call.js'

/** Remaining time budget in integer milliseconds, relative so clocks need not agree. */
export const TIMEOUT_HEADER = 'x-weft-timeout'
/** Attempt number, 1 for the first try. */
export const ATTEMPT_HEADER = 'x-weft-attempt'
/** Marks a POST/PATCH as safe to retry. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'
/** gRPC's remaining budget, `<n>m` / `<n>S`, sent beside ours. */
export const GRPC_TIMEOUT_HEADER = 'grpc-timeout'
/** Every header a deadline is read from, ours first. */
export const DEADLINE_HEADERS = [TIMEOUT_HEADER, GRPC_TIMEOUT_HEADER, 'x-envoy-expected-rq-timeout-ms'] as const
/** W3C trace context and baggage. */
export const TRACE_HEADERS = ['traceparent', 'tracestate', 'baggage'] as const

/** The largest value grpc-timeout allows: 8 digits. */
const GRPC_MAX_VALUE = 99_999_999

// The last budget formatted: calls that start with a route's whole timeout send the same value
// call after call, and two number-to-string conversions are most of stamping it
let lastMs = -1
let lastMillis = ''
let lastGrpc = ''

/** Formats a remaining budget into `lastMillis` and `lastGrpc` (whole ms, rounded down, at least 1), unless they hold it already. */
function format(remainingMs: number): void {
  const ms = remainingMs >= 2 ? Math.floor(remainingMs) : 1
  if (ms === lastMs) return
  lastMs = ms
  lastMillis = String(ms)
  lastGrpc = ms <= GRPC_MAX_VALUE ? `${ms}m` : `${Math.min(GRPC_MAX_VALUE, Math.floor(ms / 1000))}S`
}

/** `x-weft-timeout` for a remaining budget: integer milliseconds, rounded down, at least 1. */
export function formatMillis(remainingMs: number): string {
  format(remainingMs)
  return lastMillis
}

/** `grpc-timeout` for a remaining budget: `<n>m`, or whole seconds when n would need more than 8 digits. */
export function formatGrpcTimeout(remainingMs: number): string {
  format(remainingMs)
  return lastGrpc
}

/** Sets both deadline headers on `out`, a copy the caller owns, for a remaining budget. */
export function stampTimeout(out: Record<string, unknown>, remainingMs: number): void {
  format(remainingMs)
  out[TIMEOUT_HEADER] = lastMillis
  out[GRPC_TIMEOUT_HEADER] = lastGrpc
}

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
