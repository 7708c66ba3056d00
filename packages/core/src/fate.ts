/**
 * A call's fate: why it ended the way it did, from its outcome. One definition for the metrics
 * labels, the trace attributes and the tap, next to the classifier they all share.
 */

import type { Reply } from './call.js'
import { errorKind } from './classify.js'
import { weftErrorOf } from './errors.js'

export type Fate =
  | 'ok'
  | 'ok_after_retry'
  | 'not_retryable'
  | 'retry_budget'
  | 'deadline'
  | 'circuit_open'
  | 'no_healthy_endpoint'
  | 'shed'
  | 'unauthorized'
  | 'error'

/**
 * The fate of a call that ended with `reply`: the retry layer's own word when it stopped retrying
 * (`retry_budget`, `not_retryable`), else by status and the number of tries.
 */
export function replyFate(reply: Reply): Fate {
  const said = reply.fate
  if (said === 'retry_budget' || said === 'not_retryable') return said
  if (reply.status >= 500) return 'error'
  return reply.attempts !== undefined && reply.attempts > 1 ? 'ok_after_retry' : 'ok'
}

/** The fate of a call that ended with an error. */
export function errorFate(error: unknown): Fate {
  switch (weftErrorOf(error)?.code) {
    case 'WEFT_RETRY_BUDGET_EXHAUSTED':
      return 'retry_budget'
    case 'WEFT_NOT_RETRYABLE':
      return 'not_retryable'
    case 'WEFT_DEADLINE_EXCEEDED':
      return 'deadline'
    case 'WEFT_CIRCUIT_OPEN':
      return 'circuit_open'
    case 'WEFT_NO_HEALTHY_ENDPOINT':
      return 'no_healthy_endpoint'
    case 'WEFT_OVERLOADED':
      return 'shed'
    case 'WEFT_UNAUTHORIZED':
    case 'WEFT_PEER_IDENTITY_MISMATCH':
      return 'unauthorized'
  }
  switch (errorKind(error)) {
    case 'deadline':
      return 'deadline'
    case 'circuit-open':
      return 'circuit_open'
    case 'no-endpoint':
      return 'no_healthy_endpoint'
    case 'overloaded':
      return 'shed'
    default:
      return 'error'
  }
}

/** Every fate, in label order. */
export const FATES: readonly Fate[] = [
  'ok',
  'ok_after_retry',
  'not_retryable',
  'retry_budget',
  'deadline',
  'circuit_open',
  'no_healthy_endpoint',
  'shed',
  'unauthorized',
  'error',
]
