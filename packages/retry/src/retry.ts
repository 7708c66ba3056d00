/**
 * The retry layer: a failed try is tried again — on another endpoint, after a full-jitter backoff,
 * while the service's retry budget allows and only when repeating is safe. The first try runs
 * with no retry machinery; everything else happens only after a failure.
 */
import {
  type Call,
  type Clock,
  copyCall,
  createTimerQueue,
  Deadline,
  type Duration,
  errorKind,
  holdOpen,
  LinkedSignal,
  type Middleware,
  type Outcome,
  parseDuration,
  type Reply,
  signalOf,
  systemClock,
  TIMEOUT_HEADER,
  type TimerQueue,
  WeftError,
} from '@weft/core'
import type { ServicePolicy } from '@weft/policy'
import { accept, budgetExhausted, final, noteEndpoint, notRetryable, perTryTimedOut, type RetryEnv } from './answers.js'
import { fullJitter, NEVER, pushback } from './backoff.js'
import { createRetryBudget, type RetryBudget, type RetryBudgetOptions } from './budget.js'
import { hedged } from './hedge.js'
import { ReplayBody } from './replay-body.js'
import { idempotent, refusal } from './safety.js'
import {
  forStack,
  RETRY_DEFAULTS,
  type RetrySettingsOptions,
  type RouteSettings,
  settingsFromOptions,
  settingsFromService,
} from './settings.js'
import { tryHeaders } from './try-headers.js'

export interface RetryOptions extends RetrySettingsOptions {
  /**
   * The service's resolved policy. When given, each call uses the `retries`, `timeout` and `hedge`
   * of its route (by `call.route`), or the service's own for a call with no known route, and the
   * settings above are not used.
   */
  service?: ServicePolicy
  /** The service's retry budget, or its options. Default the policy's `retries.budget`, else `{ ratio: 0.2, minPerSecond: 10, window: '10s' }`. */
  budget?: RetryBudgetOptions | RetryBudget
  /** The longest `Retry-After` honoured when the call has no deadline; past it the reply is final. Default `10s`. */
  maxRetryAfter?: Duration
  /** Backoff sleeps, per-try timeouts and the budget window run on it. Default `systemClock`. */
  clock?: Clock
  /** The mesh's shared timer queue for per-try timeouts and hedges. Default: one per stack on `clock`. */
  timers?: TimerQueue
  /** Random numbers in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number
}

/** Retries a failed call while the retry budget allows it, and only when repeating is safe. */
export function retry(options: RetryOptions = {}): Middleware {
  const clock = options.clock ?? systemClock
  const random = options.random ?? Math.random
  const maxRetryAfter =
    options.maxRetryAfter === undefined ? RETRY_DEFAULTS.maxRetryAfter : parseOption('maxRetryAfter', options.maxRetryAfter)
  const configured =
    options.service === undefined
      ? { routes: new Map<string, RouteSettings>(), fallback: settingsFromOptions(options, undefined) }
      : settingsFromService(options.service)
  const shared = isBudget(options.budget) ? options.budget : undefined
  const budgetOptions: RetryBudgetOptions =
    shared === undefined ? { ...options.service?.retries?.budget, ...(options.budget as RetryBudgetOptions) } : {}
  if (shared === undefined) createRetryBudget({ ...budgetOptions, clock }) // validates once, here

  return (next) => {
    const budget = shared ?? createRetryBudget({ ...budgetOptions, clock })
    const budgetOnClock = budget.clock === clock
    const timers = options.timers ?? createTimerQueue(clock)
    const routes = new Map<string, RouteSettings>()
    for (const [name, s] of configured.routes) routes.set(name, forStack(s))
    const fallback = forStack(configured.fallback)
    const env: RetryEnv = { next, budget, timers, clock, random, maxRetryAfter }

    return function retrying(call: Call): Promise<Reply> {
      const s = call.route === undefined ? fallback : (routes.get(call.route) ?? fallback)
      // the call's start is a monotonic reading of the mesh clock already: no second read (~80 ns here)
      budget.deposit(call.startedAt > 0 && budgetOnClock ? call.startedAt : undefined)
      // one try and nothing to time: stamp the attempt and go. A route timeout no tighter than the
      // deadline already set (the deadline layer applies the service's loosest) changes nothing.
      if (s.timeout === undefined || !tightens(call, s.timeout, clock)) {
        if (s.single) return next(firstTry(call))
        // the common case: the first try is a plain call; the retry loop starts only after a failure
        if (s.hedge === undefined && s.perTryTimeout === undefined && (call.body === null || call.body === undefined || call.replayable)) {
          const first = firstTry(call)
          return next(first).then(
            (reply) =>
              reply.status < 600 && s.statuses[reply.status] === 1
                ? retried(env, call, s, false, { reply }, first.tried as string[])
                : reply,
            (error) => retried(env, call, s, false, { error }, first.tried as string[]),
          )
        }
        if (s.hedge === undefined) return retried(env, call, s, false)
      }
      return run(env, call, s)
    }
  }
}

/** Try `attempt` of `call`: its own headers, tried list and body, and, under a per-try timeout, its own signal and deadline. */
function tryCall(
  call: Call,
  headers: Call['headers'],
  attempt: number,
  tried: readonly string[],
  body: unknown,
  timer: LinkedSignal | undefined,
  tryAt: number,
  clock: Clock,
): Call {
  const t = copyCall(call)
  t.headers = headers
  t.attempt = attempt
  t.tried = tried
  t.body = body
  if (timer !== undefined) {
    t.signal = timer.signal
    t.deadline = new Deadline(tryAt, clock)
  }
  return t
}

/** The first try of a call that has no retries to make. */
function firstTry(call: Call): Call {
  const remaining =
    call.deadline === undefined || call.headers[TIMEOUT_HEADER] !== undefined ? Number.POSITIVE_INFINITY : call.deadline.remainingMs()
  const first = copyCall(call)
  first.headers = tryHeaders(call.headers, 1, remaining)
  first.attempt = 1
  first.tried = []
  return first
}

/** Tightens the deadline to the route's timeout, then tries (with hedges, when the route has them). */
async function run(env: RetryEnv, call: Call, s: RouteSettings): Promise<Reply> {
  let bounded = call
  let overall: LinkedSignal | undefined
  if (s.timeout !== undefined) {
    const at = env.clock.now() + s.timeout
    if (tightens(call, s.timeout, env.clock, at)) {
      overall = new LinkedSignal(signalOf(call), env.timers, at, () => routeTimeoutExceeded(call, s))
      const tightened = copyCall(call)
      tightened.deadline = new Deadline(at, env.clock)
      tightened.signal = overall.signal
      bounded = tightened
    }
  }
  try {
    const reply =
      s.hedge !== undefined && s.hedge.maxAttempts > 1 && hedgeable(bounded, s)
        ? await hedged(env, bounded, s)
        : await retried(env, bounded, s, overall !== undefined)
    return overall === undefined ? reply : overall.wrap(reply)
  } catch (err) {
    overall?.release()
    throw err
  }
}

/** Tries one after another until one is final, the attempts run out, or the budget or safety says stop. */
async function retried(
  env: RetryEnv,
  call: Call,
  s: RouteSettings,
  tightened: boolean,
  firstOutcome?: Outcome,
  firstTried?: string[],
): Promise<Reply> {
  const { next, clock, timers } = env
  const tried: string[] = firstTried ?? []
  const known = call.body === null || call.body === undefined || call.replayable
  let replay: ReplayBody | undefined
  let body = call.body
  if (!known && s.attempts > 1 && ReplayBody.accepts(call.body)) {
    // a POST without a key is retried only when nothing was sent: no need to keep a copy of its body
    replay = new ReplayBody(call.body, idempotent(call, s.unsafe) ? s.bufferLimit : 0, contentLength(call))
    body = replay.next()
  }

  const deadlineAt = call.deadline === undefined ? Number.POSITIVE_INFINITY : call.deadline.at
  for (let attempt = 1; ; attempt++) {
    let tryAt = deadlineAt
    let remaining = Number.POSITIVE_INFINITY
    let timer: LinkedSignal | undefined
    // the deadline layer wrote the headers for this deadline a moment ago: the first try keeps them
    const fresh = attempt === 1 && !tightened && call.headers[TIMEOUT_HEADER] !== undefined
    if (s.perTryTimeout !== undefined || (deadlineAt !== Number.POSITIVE_INFINITY && !fresh)) {
      const now = clock.now()
      if (s.perTryTimeout !== undefined && now + s.perTryTimeout < deadlineAt) {
        tryAt = now + s.perTryTimeout
        const n = attempt
        timer = new LinkedSignal(signalOf(call), timers, tryAt, () => perTryTimedOut(call, n, s))
      }
      if (!fresh || timer !== undefined) remaining = tryAt - now
    }
    const outcome: Outcome =
      attempt === 1 && firstOutcome !== undefined
        ? firstOutcome // the first try already ran as a plain call (see `retrying`)
        : await settle(next(tryCall(call, tryHeaders(call.headers, attempt, remaining), attempt, tried, body, timer, tryAt, clock)))
    noteEndpoint(tried, attempt, outcome)

    const reply = outcome.reply
    if (reply !== undefined) {
      if (!(reply.status < 600 && s.statuses[reply.status] === 1)) return accept(reply, attempt, timer)
    } else if (!s.kinds.has(errorKind(outcome.error))) {
      timer?.release()
      throw outcome.error
    }

    // a retry is wanted: is one allowed?
    if (attempt >= s.attempts) return final(outcome, attempt, timer)
    const unsafe = refusal(call, outcome, s.unsafe, replay, known)
    if (unsafe !== undefined) return notRetryable(call, s, outcome, attempt, unsafe, timer)
    const later = clock.now()
    let delay = reply === undefined ? undefined : pushback(reply, later)
    if (delay === NEVER) return final(outcome, attempt, timer)
    if (delay === undefined) delay = fullJitter(attempt, s.backoffBase, s.backoffMax, env.random)
    else if (deadlineAt === Number.POSITIVE_INFINITY && delay > env.maxRetryAfter) return final(outcome, attempt, timer)
    // no time left for another try after the wait: the last outcome is the answer
    if (later + delay >= deadlineAt) return final(outcome, attempt, timer)
    if (!env.budget.tryWithdraw()) return budgetExhausted(call, s, outcome, attempt, timer)

    reply?.body?.discard()
    timer?.release()
    if (replay !== undefined) body = replay.next()
    if (delay > 0) await waitBeforeRetry(clock, delay, signalOf(call))
  }
}

/** Whether the route's `timeout` from now ends before the deadline the call already has. */
function tightens(call: Call, timeout: number, clock: Clock, at = clock.now() + timeout): boolean {
  return call.deadline === undefined || at < call.deadline.at
}

/** Safe to send twice at once: an idempotent call whose body is in memory. */
export function hedgeable(call: Call, s: RouteSettings): boolean {
  return idempotent(call, s.unsafe) && (call.body === null || call.body === undefined || call.replayable)
}

function routeTimeoutExceeded(call: Call, s: RouteSettings): WeftError {
  const where = s.route === undefined ? '' : ` (route ${s.route})`
  return new WeftError('WEFT_DEADLINE_EXCEEDED', `call to ${call.service} exceeded its timeout of ${s.timeout}ms${where}`, {
    details: { service: call.service, route: s.route, budgetMs: s.timeout, source: 'timeout' },
  })
}

/**
 * Sleeps on the clock before a retry. The clock's timers do not keep the process alive, but a
 * retry waiting is work in progress, as a request in flight is: hold the event loop meanwhile
 * (one handle per retry, never on the success path).
 */
function waitBeforeRetry(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return holdOpen(clock.sleep(ms, signal))
}

/** The outcome of a try, whichever way it went. */
function settle(pending: Promise<Reply>): Promise<Outcome> {
  return pending.then(
    (reply) => ({ reply }),
    (error: unknown) => ({ error }),
  )
}

function contentLength(call: Call): number | undefined {
  const v = call.headers['content-length']
  return typeof v === 'string' && /^[0-9]{1,15}$/.test(v) ? Number(v) : undefined
}

function isBudget(b: unknown): b is RetryBudget {
  return typeof b === 'object' && b !== null && typeof (b as RetryBudget).tryWithdraw === 'function'
}

function parseOption(name: string, value: Duration): number {
  try {
    return parseDuration(value)
  } catch (err) {
    throw new WeftError('WEFT_INVALID_ARGUMENT', `retry: ${name}: ${(err as Error).message}`, { cause: err })
  }
}
