/** How a call's tries end: the reply handed up (with its attempts and fate), or the error thrown. */
import {
  type Call,
  type Clock,
  errorKind,
  type Fate,
  type Handler,
  type LinkedSignal,
  type Outcome,
  type OutcomeKind,
  type Reply,
  type TimerQueue,
  WeftError,
  weftErrorOf,
} from '@weft/core'
import type { RetryBudget } from './budget.js'
import { explain, type NotRetryableReason } from './safety.js'
import type { RouteSettings } from './settings.js'

/** Why a call ended with a reply that was not retried although it was worth a retry. */
export type RetryFate = Extract<Fate, 'retry_budget' | 'not_retryable'>

/** A reply as the retry layer hands it up: how many tries it took, and why retrying stopped. */
/** A reply as the retry layer hands it up: `attempts` and, when it stopped retrying, `fate` set. */
export type RetriedReply = Reply

/** What every call of one stack shares. */
export interface RetryEnv {
  readonly next: Handler
  readonly budget: RetryBudget
  readonly timers: TimerQueue
  readonly clock: Clock
  readonly random: () => number
  readonly maxRetryAfter: number
}

/** A final reply: its per-try timer stops (the body is bounded by the deadline), and it says how many tries it took. */
export function accept(reply: Reply, attempt: number, timer: LinkedSignal | undefined, fate?: RetryFate): RetriedReply {
  let out: RetriedReply = reply
  if (timer !== undefined) {
    timer.stopTimer()
    out = timer.wrap(out)
  }
  if (fate !== undefined) return { ...out, attempts: attempt, fate }
  return attempt > 1 ? { ...out, attempts: attempt } : out
}

/** The last outcome as the answer: a reply is returned, an error thrown. */
export function final(outcome: Outcome, attempt: number, timer: LinkedSignal | undefined): RetriedReply {
  if (outcome.reply !== undefined) return accept(outcome.reply, attempt, timer)
  timer?.release()
  throw outcome.error
}

/** The budget refused a retry: the last reply if one came back, else the last error wrapped. */
export function budgetExhausted(
  call: Call,
  s: RouteSettings,
  outcome: Outcome,
  attempt: number,
  timer: LinkedSignal | undefined,
): RetriedReply {
  if (outcome.reply !== undefined) return accept(outcome.reply, attempt, timer, 'retry_budget')
  timer?.release()
  const kind = errorKind(outcome.error)
  throw new WeftError(
    'WEFT_RETRY_BUDGET_EXHAUSTED',
    `retry budget for ${call.service} exhausted: not retrying ${kind} after ${attempt} ${attempt === 1 ? 'try' : 'tries'} (${messageOf(outcome.error)})`,
    { cause: outcome.error, details: { service: call.service, route: s.route, attempt, kind } },
  )
}

export function notRetryable(
  call: Call,
  s: RouteSettings,
  outcome: Outcome,
  attempt: number,
  reason: NotRetryableReason,
  timer: LinkedSignal | undefined,
): RetriedReply {
  if (outcome.reply !== undefined) return accept(outcome.reply, attempt, timer, 'not_retryable')
  timer?.release()
  const kind: OutcomeKind = errorKind(outcome.error)
  throw new WeftError(
    'WEFT_NOT_RETRYABLE',
    `${call.service}: ${kind} on try ${attempt} not retried: ${explain(reason, call, s.bufferLimit)} (${messageOf(outcome.error)})`,
    {
      cause: outcome.error,
      details: { service: call.service, route: s.route, attempt, kind, reason },
    },
  )
}

/** Records the endpoint of a failed try from its error when the balancer below did not. */
export function noteEndpoint(tried: string[], attempt: number, outcome: Outcome): void {
  if (tried.length >= attempt || outcome.error === undefined) return
  const endpoint = weftErrorOf(outcome.error)?.details.endpoint
  if (typeof endpoint === 'string') tried.push(endpoint)
}

export function perTryTimedOut(call: Call, attempt: number, s: RouteSettings): WeftError {
  return new WeftError(
    'WEFT_DEADLINE_EXCEEDED',
    `try ${attempt} of a call to ${call.service} timed out after ${s.perTryTimeout}ms (perTryTimeout)`,
    {
      details: { service: call.service, route: s.route, attempt, perTryTimeout: s.perTryTimeout, kind: 'timeout' },
    },
  )
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
