/**
 * Hedged calls (Finagle's backup requests, gRPC hedging): when the first try has not answered
 * after a delay — fixed, or the route's observed latency at a percentile — another try goes to
 * another endpoint; the first final answer wins and the others are aborted and discarded. Every
 * extra try is charged to the retry budget.
 */
import {
  type Call,
  copyCall,
  Deadline,
  errorKind,
  isAborted,
  LinkedSignal,
  type Outcome,
  type Reply,
  signalOf,
  type TimerHandle,
} from '@weft/core'
import { accept, budgetExhausted, noteEndpoint, perTryTimedOut, type RetryEnv } from './answers.js'
import type { RouteSettings } from './settings.js'
import { tryHeaders } from './try-headers.js'

interface Try {
  readonly attempt: number
  readonly signal: LinkedSignal
  readonly startedAt: number
}

/** Runs a safe call as hedged tries; resolves with the first final answer. */
export function hedged(env: RetryEnv, call: Call, s: RouteSettings): Promise<Reply> {
  return new Promise((resolve, reject) => new HedgedCall(env, call, s, resolve, reject).launch())
}

class HedgedCall {
  readonly #env: RetryEnv
  readonly #call: Call
  readonly #s: RouteSettings
  readonly #resolve: (reply: Reply) => void
  readonly #reject: (err: unknown) => void
  readonly #tried: string[] = []
  readonly #inFlight = new Set<Try>()
  #attempts = 0
  #done = false
  #hedgeTimer: TimerHandle | undefined
  /** The latest retryable failure, kept (its body undiscarded) in case nothing better comes. */
  #last: { outcome: Outcome; t: Try } | undefined
  #refused = false

  constructor(env: RetryEnv, call: Call, s: RouteSettings, resolve: (reply: Reply) => void, reject: (err: unknown) => void) {
    this.#env = env
    this.#call = call
    this.#s = s
    this.#resolve = resolve
    this.#reject = reject
  }

  launch(): void {
    const { clock, timers } = this.#env
    const call = this.#call
    const attempt = ++this.#attempts
    const now = clock.now()
    const deadlineAt = call.deadline === undefined ? Number.POSITIVE_INFINITY : call.deadline.at
    const perTry = this.#s.perTryTimeout
    const tryAt = perTry !== undefined && now + perTry < deadlineAt ? now + perTry : deadlineAt
    const signal =
      tryAt < deadlineAt
        ? new LinkedSignal(signalOf(call), timers, tryAt, () => perTryTimedOut(call, attempt, this.#s))
        : new LinkedSignal(signalOf(call))
    const t: Try = { attempt, signal, startedAt: clock.monotonic() }
    this.#inFlight.add(t)
    this.#env
      .next(
        hedgeCall(
          call,
          tryHeaders(call.headers, attempt, tryAt - now),
          attempt,
          this.#tried,
          signal.signal,
          tryAt < deadlineAt ? new Deadline(tryAt, clock) : call.deadline,
        ),
      )
      .then(
        (reply) => this.#settle(t, { reply }),
        (error) => this.#settle(t, { error }),
      )
    this.#scheduleHedge()
  }

  #scheduleHedge(): void {
    this.#hedgeTimer?.cancel()
    this.#hedgeTimer = undefined
    const hedge = this.#s.hedge
    if (hedge === undefined || this.#attempts >= hedge.maxAttempts || this.#refused) return
    const delay = hedge.delay ?? (hedge.percentile === undefined ? undefined : hedge.latency?.percentile(hedge.percentile))
    if (delay === undefined) return
    this.#hedgeTimer = this.#env.timers.at(this.#env.clock.now() + delay, () => this.#onHedgeDue())
  }

  #onHedgeDue(): void {
    this.#hedgeTimer = undefined
    if (this.#done || isAborted(this.#call)) return
    if (!this.#env.budget.tryWithdraw()) {
      // no hedge over budget; the tries in flight carry on
      this.#refused = true
      return
    }
    this.launch()
  }

  #settle(t: Try, outcome: Outcome): void {
    this.#inFlight.delete(t)
    noteEndpoint(this.#tried, t.attempt, outcome)
    if (this.#done) {
      // lost the race: throw its answer away
      outcome.reply?.body?.discard()
      t.signal.release()
      return
    }
    const reply = outcome.reply
    const s = this.#s
    if (reply !== undefined) s.hedge?.latency?.record(this.#env.clock.monotonic() - t.startedAt)
    const retryable = reply !== undefined ? reply.status < 600 && s.statuses[reply.status] === 1 : s.kinds.has(errorKind(outcome.error))
    if (!retryable) {
      this.#win(t, outcome)
      return
    }

    // a retryable failure: keep it as the answer of last resort, and wait for the others
    if (this.#last !== undefined) this.#drop(this.#last.t, this.#last.outcome)
    this.#last = { outcome, t }
    if (this.#inFlight.size > 0) return
    // nothing else in flight: replace the failed try at once, as gRPC hedging does
    const hedge = s.hedge
    const deadlineAt = this.#call.deadline === undefined ? Number.POSITIVE_INFINITY : this.#call.deadline.at
    if (hedge !== undefined && this.#attempts < hedge.maxAttempts && this.#env.clock.now() < deadlineAt && !isAborted(this.#call)) {
      if (this.#env.budget.tryWithdraw()) {
        this.#drop(t, outcome)
        this.#last = undefined
        this.launch()
        return
      }
      this.#end(t, () => budgetExhausted(this.#call, s, outcome, this.#attempts, t.signal))
      return
    }
    this.#win(t, outcome)
  }

  /** `t`'s outcome is the answer: the others are aborted and will be discarded when they settle. */
  #win(t: Try, outcome: Outcome): void {
    this.#end(t, () => {
      if (outcome.reply !== undefined) return accept(outcome.reply, this.#attempts, t.signal)
      t.signal.release()
      throw outcome.error
    })
  }

  #end(winner: Try, answer: () => Reply): void {
    this.#done = true
    this.#hedgeTimer?.cancel()
    for (const other of this.#inFlight) other.signal.abort(HEDGE_LOST)
    // a failure kept in reserve that is not the answer after all
    const kept = this.#last
    this.#last = undefined
    if (kept !== undefined && kept.t !== winner) this.#drop(kept.t, kept.outcome)
    try {
      this.#resolve(answer())
    } catch (err) {
      this.#reject(err)
    }
  }

  #drop(t: Try, outcome: Outcome): void {
    outcome.reply?.body?.discard()
    t.signal.release()
  }
}

/** The reason a losing hedge is aborted with; it never reaches the caller. */
const HEDGE_LOST = new DOMException('hedged try aborted: another try answered first', 'AbortError')

/** One hedged try of `call`, on its own signal. */
function hedgeCall(
  call: Call,
  headers: Call['headers'],
  attempt: number,
  tried: readonly string[],
  signal: AbortSignal,
  deadline: Deadline | undefined,
): Call {
  const t = copyCall(call)
  t.headers = headers
  t.attempt = attempt
  t.tried = tried
  t.signal = signal
  t.deadline = deadline
  return t
}
