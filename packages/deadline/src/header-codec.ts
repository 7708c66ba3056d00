/**
 * The deadline headers on the wire: reading `x-weft-timeout`, `grpc-timeout` and
 * `x-envoy-expected-rq-timeout-ms` without ever throwing, and writing the remaining budget.
 */
import { copyHeaders, formatGrpcTimeout, formatMillis, GRPC_TIMEOUT_HEADER, stampTimeout, TIMEOUT_HEADER } from '@weft/core'

// formatted in core, where the retry layer's tries share them
export { formatGrpcTimeout, formatMillis, GRPC_TIMEOUT_HEADER }
export const ENVOY_TIMEOUT_HEADER = 'x-envoy-expected-rq-timeout-ms'

/** Longest `x-weft-timeout` / envoy value accepted: 10 digits (`^[0-9]{1,10}$`). */
const MAX_DIGITS = 10
/** gRPC allows at most 8 digits before the unit. */
const GRPC_MAX_DIGITS = 8

/** Called with the header name and (at most 64 characters of) the value of every invalid deadline header. */
export type InvalidHeaderListener = (header: string, value: string) => void

/**
 * Parses `^[0-9]{1,10}$` into milliseconds; `undefined` for anything else (`-5`, `1e3`, ` 100`,
 * `0x10`, `100ms`, `''`, a repeated header). Hand-rolled: no regex, no `Number()` leniency.
 */
export function parseMillis(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined
  const n = value.length
  if (n === 0 || n > MAX_DIGITS) return undefined
  let ms = 0
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 48
    if (d < 0 || d > 9) return undefined
    ms = ms * 10 + d
  }
  return ms
}

/**
 * Parses a gRPC timeout (`^[0-9]{1,8}[HMSmun]$`) into whole milliseconds, rounded down (so `500u`
 * is 0: already expired); `undefined` when malformed (`1`, `100x`, 9+ digits, `-1S`).
 */
export function parseGrpcTimeout(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined
  const n = value.length
  if (n < 2 || n > GRPC_MAX_DIGITS + 1) return undefined
  let v = 0
  for (let i = 0; i < n - 1; i++) {
    const d = value.charCodeAt(i) - 48
    if (d < 0 || d > 9) return undefined
    v = v * 10 + d
  }
  switch (value.charCodeAt(n - 1)) {
    case 72: // H
      return v * 3_600_000
    case 77: // M
      return v * 60_000
    case 83: // S
      return v * 1000
    case 109: // m
      return v
    case 117: // u
      return Math.floor(v / 1000)
    case 110: // n
      return Math.floor(v / 1_000_000)
    default:
      return undefined
  }
}

/**
 * The smallest valid budget, in milliseconds, among the deadline headers present; `undefined` when
 * none is present and valid. `x-envoy-expected-rq-timeout-ms: 0` means "no timeout" there. An
 * invalid value is reported to `onInvalid` and otherwise ignored; this never throws.
 */
export function readTimeoutHeaders(headers: Readonly<Record<string, unknown>>, onInvalid?: InvalidHeaderListener): number | undefined {
  let best: number | undefined
  const weft = headers[TIMEOUT_HEADER]
  if (weft !== undefined) {
    const ms = parseMillis(weft)
    if (ms === undefined) onInvalid?.(TIMEOUT_HEADER, shown(weft))
    else best = ms
  }
  const grpc = headers[GRPC_TIMEOUT_HEADER]
  if (grpc !== undefined) {
    const ms = parseGrpcTimeout(grpc)
    if (ms === undefined) onInvalid?.(GRPC_TIMEOUT_HEADER, shown(grpc))
    else if (best === undefined || ms < best) best = ms
  }
  const envoy = headers[ENVOY_TIMEOUT_HEADER]
  if (envoy !== undefined) {
    const ms = parseMillis(envoy)
    if (ms === undefined) onInvalid?.(ENVOY_TIMEOUT_HEADER, shown(envoy))
    else if (ms > 0 && (best === undefined || ms < best)) best = ms
  }
  return best
}

/** A header value as it may be logged: joined if repeated, cut to 64 characters. */
function shown(value: unknown): string {
  const s = Array.isArray(value) ? value.join(', ') : String(value)
  return s.length > 64 ? `${s.slice(0, 64)}…` : s
}

/**
 * A copy of `headers` with the deadline headers set for `remainingMs`. A plain object: copying it
 * again (the retry layer adds `x-weft-attempt`) is cheap, where copying a null-prototype map is
 * not; a `__proto__` header stays an own key.
 */
export function withTimeoutHeaders(headers: Readonly<Record<string, unknown>>, remainingMs: number): Record<string, unknown> {
  const out = copyHeaders(headers)
  stampTimeout(out, remainingMs)
  return out
}

/** A copy of `headers` as a plain object, without the deadline headers the caller sent (invalid ones included). */
export function withoutTimeoutHeaders(headers: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out = copyHeaders(headers)
  delete out[TIMEOUT_HEADER]
  delete out[GRPC_TIMEOUT_HEADER]
  return out
}
