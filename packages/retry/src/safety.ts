/** Whether repeating a call is safe: its method, its idempotency key, and whether its body can be sent again. */
import { type Call, IDEMPOTENCY_KEY_HEADER, nothingSent, type Outcome } from '@weft/core'
import type { ReplayBody, ReplayRefusal } from './replay-body.js'

/** Why a wanted retry did not happen (`details.reason` of WEFT_NOT_RETRYABLE). */
export type NotRetryableReason = 'method' | ReplayRefusal

/** Methods whose repetition has no extra effect (RFC 9110 idempotent methods). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])

/** True when the method, an `idempotency-key`, or the route's `unsafe` make a repeat harmless. */
export function idempotent(call: Call, unsafe: boolean): boolean {
  if (IDEMPOTENT.has(call.method)) return true
  if (unsafe) return true
  const key = call.headers[IDEMPOTENCY_KEY_HEADER]
  return typeof key === 'string' ? key.length > 0 : Array.isArray(key) && key.length > 0
}

/**
 * Why this outcome may not be retried, or `undefined` when it may. A try that failed before any
 * byte left (connect failure) is safe whatever the method; the body must still be sendable again.
 */
export function refusal(
  call: Call,
  outcome: Outcome,
  unsafe: boolean,
  replay: ReplayBody | undefined,
  bodyKnown: boolean,
): NotRetryableReason | undefined {
  if (!nothingSent(outcome) && !idempotent(call, unsafe)) return 'method'
  if (replay !== undefined) return replay.refusal()
  return bodyKnown ? undefined : 'body-not-replayable'
}

/** The sentence a WEFT_NOT_RETRYABLE error gives for a reason. */
export function explain(reason: NotRetryableReason, call: Call, bufferLimit: number): string {
  switch (reason) {
    case 'method':
      return `${call.method} without an ${IDEMPOTENCY_KEY_HEADER} header is not retried (send one, or set retries.unsafe on the route)`
    case 'body-too-large':
      return `the streamed request body is larger than the replay buffer (bufferLimit ${bufferLimit} bytes), so it was sent once`
    case 'body-not-replayable':
      return 'the request body is a one-shot stream that was (partly) sent and cannot be sent again'
  }
}
