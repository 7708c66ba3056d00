/**
 * A service-level circuit breaker on opossum: closed while the failure percentage over a rolling
 * window stays at or under the threshold (or too few calls were seen to judge); open — failing fast
 * with WEFT_CIRCUIT_OPEN without touching the network — for `breakDuration`; then half-open, letting
 * `halfOpenRequests` probes through, closing when they all succeed and opening again on a failure.
 */
/// <reference path="./opossum.d.ts" />
import { EventEmitter } from 'node:events'
import {
  type Call,
  type Clock,
  classify,
  createTimerQueue,
  errorKind,
  type Handler,
  type Middleware,
  type Reply,
  systemClock,
  type TimerHandle,
  type TimerQueue,
  WeftError,
} from '@weft/core'
import type { CircuitBreakerPolicy } from '@weft/policy'
import CircuitBreaker from 'opossum'
import { onTick } from './bucket-ticker.js'

export interface BreakerOptions extends Partial<CircuitBreakerPolicy> {
  /** Clock for the break duration; tests pass a manual clock. Default `systemClock`. */
  clock?: Clock
  /** The mesh's shared timer queue (window rotation and the break timer). Default: one of its own on `clock`. */
  timers?: TimerQueue
  /** Names the breaker in errors and snapshots, usually the service. Default `'breaker'`. */
  name?: string
  /**
   * The breaker this one replaces (the same service under the previous policy): if it is open, this
   * one starts open until the same moment, so a policy update does not let a failing service's
   * traffic through early. Default none.
   */
  inherit?: Breaker
}

/** The policy's defaults: `{ failurePercent: 50, minimumRequests: 20, window: 10s, breakDuration: 30s, halfOpenRequests: 1 }`. */
export const BREAKER_DEFAULTS: CircuitBreakerPolicy = {
  failurePercent: 50,
  minimumRequests: 20,
  window: 10_000,
  breakDuration: 30_000,
  halfOpenRequests: 1,
}

/** The rolling window is kept in this many buckets (opossum's default). */
const BUCKETS = 10
/** opossum's own reset timer is left idle: weft moves to half-open on the mesh's clock. */
const NEVER = 2_147_483_647

export type BreakerState = 'closed' | 'open' | 'half-open'

export interface BreakerSnapshot {
  name: string
  state: BreakerState
  /** Epoch ms the breaker last opened, and when it lets probes through. */
  openedAt?: number
  halfOpenAt?: number
  /** Calls, failures and fast-failed calls in the rolling window (closed state). */
  window: { requests: number; failures: number; successes: number; rejected: number; failurePercent: number }
  settings: CircuitBreakerPolicy
}

/** A breaker for one service: its middleware, and its state as plain data. */
export interface Breaker {
  readonly middleware: Middleware
  state(): BreakerState
  snapshot(): BreakerSnapshot
  /** Stops the breaker's timers; calls afterwards pass straight through. */
  close(): void
}

/** The breaker as a plain middleware; use `createBreaker` to keep a handle for `snapshot()`. */
export function breaker(options: BreakerOptions = {}): Middleware {
  return createBreaker(options).middleware
}

/** A reply the classifier calls a failure, thrown only so that opossum counts it; the caller still gets the reply. */
class FailedReply {
  constructor(readonly reply: Reply) {}
}

export function createBreaker(options: BreakerOptions = {}): Breaker {
  const settings = resolve(options)
  const clock = options.clock ?? systemClock
  const timers = options.timers ?? createTimerQueue(clock)
  const name = options.name ?? 'breaker'
  const rotation = new EventEmitter()

  const action = (next: Handler, call: Call): Promise<Reply> =>
    next(call).then((reply) => (classify(call, { reply }) === 'success' ? reply : Promise.reject(new FailedReply(reply))))
  const cb = new CircuitBreaker<[Handler, Call], Reply>(action, {
    name,
    timeout: false, // the deadline layer owns time: no timer per call
    errorThresholdPercentage: settings.failurePercent,
    volumeThreshold: settings.minimumRequests, // opossum's default 0 lets one failure open it
    rollingCountTimeout: settings.window,
    rollingCountBuckets: BUCKETS,
    rollingPercentilesEnabled: false, // else opossum sorts every latency of the window on each failure
    enableSnapshots: false, // else another interval per breaker
    rotateBucketController: rotation, // rotated by the mesh's one shared ticker, below
    resetTimeout: NEVER,
    errorFilter: (err) => !(err instanceof FailedReply) && neutral(err),
  })

  let state: BreakerState = 'closed'
  let openedAt: number | undefined
  let halfOpenAt: number | undefined
  let breakTimer: TimerHandle | undefined
  let probesStarted = 0
  let probesSucceeded = 0
  let closed = false

  // the rolling window rotates on the shared ticker while there is traffic
  let ticking = false
  let callsSinceTick = 0
  let idleTicks = 0
  const tick = () => {
    rotation.emit('rotate')
    idleTicks = callsSinceTick === 0 ? idleTicks + 1 : 0
    callsSinceTick = 0
    if (idleTicks >= BUCKETS || closed) {
      ticking = false // every bucket has rotated out: the window is empty
      return false
    }
    return true
  }
  const bucketMs = Math.max(1, Math.floor(settings.window / BUCKETS))

  function open() {
    state = 'open'
    const now = clock.now()
    const due = now + settings.breakDuration
    openedAt = now
    halfOpenAt = due
    probesStarted = 0
    probesSucceeded = 0
    breakTimer?.cancel()
    breakTimer = timers.at(due, () => {
      breakTimer = undefined
      state = 'half-open'
    })
  }
  cb.on('open', open)

  const previous = options.inherit?.snapshot()
  if (previous !== undefined && previous.state !== 'closed' && previous.openedAt !== undefined) {
    // the old break duration holds; probes start afresh
    state = 'open'
    openedAt = previous.openedAt
    const due = previous.state === 'half-open' ? clock.now() : (previous.halfOpenAt ?? clock.now())
    halfOpenAt = due
    breakTimer = timers.at(due, () => {
      breakTimer = undefined
      state = 'half-open'
    })
  }

  function close() {
    state = 'closed'
    openedAt = halfOpenAt = undefined
    cb.close()
    for (let i = 0; i < BUCKETS; i++) rotation.emit('rotate') // judge afresh: the old failures are history
  }

  function circuitOpen(call: Call): WeftError {
    const now = clock.now()
    return new WeftError(
      'WEFT_CIRCUIT_OPEN',
      `${call.service}: circuit open${state === 'half-open' ? ' (half-open, probes in flight)' : ''}; failing fast${halfOpenAt !== undefined && halfOpenAt > now ? `, probes in ${halfOpenAt - now}ms` : ''}`,
      { details: { service: call.service, breaker: name, state, openedAt, halfOpenAt } },
    )
  }

  const unwrap = (err: unknown): Reply => {
    if (err instanceof FailedReply) return err.reply
    throw err
  }

  const middleware: Middleware = (next) =>
    function breaking(call) {
      if (closed) return next(call)
      if (state === 'closed') {
        callsSinceTick++
        if (!ticking) {
          ticking = true
          idleTicks = 0
          onTick(timers, clock, bucketMs, tick)
        }
        return cb.fire(next, call).then(undefined, unwrap)
      }
      if (state === 'open' || probesStarted >= settings.halfOpenRequests) return Promise.reject(circuitOpen(call))
      return probe(next, call)
    }

  async function probe(next: Handler, call: Call): Promise<Reply> {
    probesStarted++
    let verdict: 'success' | 'failure' | 'neutral'
    let reply: Reply | undefined
    let error: unknown
    try {
      reply = await next(call)
      verdict = classify(call, { reply }) === 'success' ? 'success' : 'failure'
    } catch (err) {
      error = err
      verdict = neutral(err) ? 'neutral' : 'failure'
    }
    if (state === 'half-open') {
      if (verdict === 'failure') open()
      else if (verdict === 'neutral') probesStarted--
      else if (++probesSucceeded >= settings.halfOpenRequests) close()
    }
    if (reply !== undefined) return reply
    throw error
  }

  return {
    middleware,
    state: () => state,
    snapshot() {
      const s = cb.stats
      const requests = s.successes + s.failures
      const snap: BreakerSnapshot = {
        name,
        state,
        window: {
          requests,
          failures: s.failures,
          successes: s.successes,
          rejected: s.rejects,
          failurePercent: requests === 0 ? 0 : Math.round((1000 * s.failures) / requests) / 10,
        },
        settings: { ...settings },
      }
      if (openedAt !== undefined) snap.openedAt = openedAt
      if (halfOpenAt !== undefined) snap.halfOpenAt = halfOpenAt
      return snap
    },
    close() {
      closed = true
      breakTimer?.cancel()
      cb.shutdown()
    },
  }
}

/** The caller gave up: says nothing about the service's health. */
function neutral(err: unknown): boolean {
  const kind = errorKind(err)
  return kind === 'aborted' || kind === 'overloaded'
}

function resolve(options: BreakerOptions): CircuitBreakerPolicy {
  const s: CircuitBreakerPolicy = { ...BREAKER_DEFAULTS }
  for (const key of Object.keys(BREAKER_DEFAULTS) as (keyof CircuitBreakerPolicy)[]) {
    const v = options[key]
    if (v !== undefined) s[key] = v
  }
  const bad = (field: string, want: string) =>
    new WeftError('WEFT_INVALID_ARGUMENT', `breaker: ${field} must be ${want}, got ${String(s[field as keyof CircuitBreakerPolicy])}`, {
      details: { field },
    })
  if (!(s.failurePercent > 0 && s.failurePercent <= 100)) throw bad('failurePercent', 'a percentage above 0 and at most 100')
  if (!(Number.isInteger(s.minimumRequests) && s.minimumRequests >= 1)) throw bad('minimumRequests', 'a whole number of at least 1')
  if (!(s.window >= BUCKETS)) throw bad('window', `at least ${BUCKETS} ms`)
  if (!(s.breakDuration > 0)) throw bad('breakDuration', 'a positive number of ms')
  if (!(Number.isInteger(s.halfOpenRequests) && s.halfOpenRequests >= 1)) throw bad('halfOpenRequests', 'a whole number of at least 1')
  return s
}
