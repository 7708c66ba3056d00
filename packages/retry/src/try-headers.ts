/** The headers of one try: `x-weft-attempt`, and the try's remaining budget when it has a deadline. */
import { ATTEMPT_HEADER, copyHeaders, type HeaderMap, stampTimeout } from '@weft/core'

const ATTEMPTS = Array.from({ length: 16 }, (_, i) => String(i))

/**
 * A copy of `headers` for try `attempt`, with the deadline headers for `remainingMs` when it is
 * finite. A plain object, so the next copy is cheap; a `__proto__` header stays an own key.
 */
export function tryHeaders(headers: Readonly<HeaderMap>, attempt: number, remainingMs: number): HeaderMap {
  // already right (the dispatcher stamps a mesh call's first try as it builds its headers): no copy
  if (remainingMs === Number.POSITIVE_INFINITY && headers[ATTEMPT_HEADER] === ATTEMPTS[attempt]) return headers as HeaderMap
  const out = copyHeaders(headers)
  out[ATTEMPT_HEADER] = attempt < ATTEMPTS.length ? (ATTEMPTS[attempt] as string) : String(attempt)
  if (remainingMs !== Number.POSITIVE_INFINITY) stampTimeout(out, remainingMs)
  return out
}
