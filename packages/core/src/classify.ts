/**
 * The one classifier: what an outcome was, and whether it failed. Retry, breaker, outlier
 * detection and metrics all ask it, so they agree on what failed.
 */
import type { Call, Reply } from './call.js'
import { isWeftError } from './errors.js'

/** The result of a try: a reply, or an error. */
export type Outcome = { readonly reply: Reply; readonly error?: undefined } | { readonly reply?: undefined; readonly error: unknown }

/**
 * What happened, in the words of the policy's `retries.on`: a status code, or one of
 * `connect-failure` (no byte left: always safe to retry), `reset`, `refused-stream`, `timeout`
 * (a per-try timeout), `deadline`, `aborted` (by the caller), `circuit-open`, `no-endpoint`,
 * `overloaded`, `error` (anything else).
 */
export type OutcomeKind =
  | number
  | 'connect-failure'
  | 'reset'
  | 'refused-stream'
  | 'timeout'
  | 'deadline'
  | 'aborted'
  | 'circuit-open'
  | 'no-endpoint'
  | 'overloaded'
  | 'error'

export type Verdict = 'success' | 'retryable' | 'failure'

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
])
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])

/** What kind of outcome this was. */
export function outcomeKind(outcome: Outcome): OutcomeKind {
  if (outcome.reply !== undefined) return outcome.reply.status
  return errorKind(outcome.error)
}

/** The kind of a failure, looking through the cause chain to the transport's error code. */
export function errorKind(error: unknown): OutcomeKind {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 8; depth++) {
    if (isWeftError(e)) {
      const kind = e.details.kind
      if (typeof kind === 'string') return kind as OutcomeKind
      switch (e.code) {
        case 'WEFT_DEADLINE_EXCEEDED':
          return 'deadline'
        case 'WEFT_CIRCUIT_OPEN':
          return 'circuit-open'
        case 'WEFT_NO_HEALTHY_ENDPOINT':
          return 'no-endpoint'
        case 'WEFT_OVERLOADED':
          return 'overloaded'
      }
    }
    const { code, name } = e as { code?: unknown; name?: unknown }
    if (typeof code === 'string') {
      if (CONNECT_CODES.has(code)) return 'connect-failure'
      if (RESET_CODES.has(code)) return 'reset'
      if (TIMEOUT_CODES.has(code)) return 'timeout'
    }
    if (name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return 'aborted'
    e = (e as { cause?: unknown }).cause
  }
  return 'error'
}

/** Kinds worth another try by default (Envoy's `connect-failure,reset,refused-stream` and gateway errors). */
const RETRYABLE = new Set<OutcomeKind>(['connect-failure', 'reset', 'refused-stream', 'timeout', 502, 503, 504])

/**
 * Success, retryable failure or failure. A status below 500 is a success for the mesh (4xx is the
 * caller's business); 502/503/504 and transport failures are retryable; other 5xx, deadlines and
 * the caller's own abort are failures. Whether a retryable call is retried is the retry layer's
 * decision (method safety, policy `on`, budget).
 */
export function classify(_call: Call, outcome: Outcome): Verdict {
  const kind = outcomeKind(outcome)
  if (typeof kind === 'number' && kind < 500) return 'success'
  return RETRYABLE.has(kind) ? 'retryable' : 'failure'
}

/** True when no byte of the request can have reached the upstream, so any call may be retried. */
export function nothingSent(outcome: Outcome): boolean {
  return outcome.reply === undefined && errorKind(outcome.error) === 'connect-failure'
}
