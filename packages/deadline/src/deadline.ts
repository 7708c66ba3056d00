/**
 * The client deadline layer: a call's budget is the smallest of the `x-weft-timeout` its caller
 * sent, the remaining time of the inbound request being served, and the service's timeout; the
 * call carries it as a deadline, a signal that fires when it passes, and headers upstream.
 */
import {
  activeCall,
  type Call,
  type Clock,
  copyCall,
  createTimerQueue,
  Deadline,
  type Duration,
  type Middleware,
  parseDuration,
  type Reply,
  systemClock,
  type TimerQueue,
  WeftError,
} from '@weft/core'
import type { ServicePolicy } from '@weft/policy'
import { type BudgetSource, deadlineExceeded, deadlineSignal } from './deadline-signal.js'
import { ENVOY_TIMEOUT_HEADER, GRPC_TIMEOUT_HEADER, readTimeoutHeaders, withoutTimeoutHeaders, withTimeoutHeaders } from './header-codec.js'

export interface DeadlineOptions {
  /**
   * The service's resolved policy. Its timeout bounds every call: the loosest of its routes'
   * timeouts applies here, before routing; the retry layer, which sees the matched route, tightens
   * it to that route's own. Default none.
   */
  service?: ServicePolicy
  /** A timeout for every call through this layer (with `service`, the smaller wins). Default none. */
  timeout?: Duration
  /** Whether outbound calls made while serving a request inherit its remaining time. Default `true`. */
  propagate?: boolean
  /** Reads the time. Default `systemClock`. */
  clock?: Clock
  /** The mesh's shared timer queue (never a timer per call). Default: one per stack on `clock`. */
  timers?: TimerQueue
}

export const DEADLINE_DEFAULTS = { propagate: true } as const

/**
 * Bounds every call by its deadline. A call whose budget is already gone fails with
 * `WEFT_DEADLINE_EXCEEDED` before it picks an endpoint; one with a deadline sends the remaining
 * milliseconds as `x-weft-timeout` and `grpc-timeout`, and its signal aborts the call (body
 * included) when the deadline passes.
 */
export function deadline(options: DeadlineOptions = {}): Middleware {
  const clock = options.clock ?? systemClock
  const propagate = options.propagate ?? DEADLINE_DEFAULTS.propagate
  let timeout = options.service === undefined ? Number.POSITIVE_INFINITY : loosestTimeout(options.service)
  if (options.timeout !== undefined) {
    const own = checkedTimeout(options.timeout)
    if (own < timeout) timeout = own
  }

  return (next) => {
    const timers = options.timers ?? createTimerQueue(clock)

    return function bounded(call: Call): Promise<Reply> {
      const h = call.headers
      const sent = h['x-weft-timeout'] !== undefined || h[GRPC_TIMEOUT_HEADER] !== undefined || h[ENVOY_TIMEOUT_HEADER] !== undefined
      // a clock read costs ~80 ns on some machines: none for a call with no deadline anywhere
      let now = timeout === Number.POSITIVE_INFINITY && !sent ? Number.NaN : clock.now()
      let at = timeout === Number.POSITIVE_INFINITY ? timeout : now + timeout
      let source: BudgetSource = 'timeout'
      let inherited: Deadline | undefined

      if (sent) {
        const ms = readTimeoutHeaders(h)
        if (ms !== undefined && now + ms < at) {
          at = now + ms
          source = 'header'
        }
      }
      if (call.deadline !== undefined && call.deadline.at <= at) {
        // set by a layer outside this one
        at = call.deadline.at
        inherited = call.deadline
        source = 'timeout'
      }
      if (propagate) {
        const inbound = activeCall()
        if (inbound !== undefined && inbound.direction === 'inbound' && inbound.deadline !== undefined && inbound.deadline.at <= at) {
          at = inbound.deadline.at
          inherited = inbound.deadline
          source = 'inbound'
        }
      }

      if (at === Number.POSITIVE_INFINITY) {
        // no deadline: pass the call on as it is, but never forward a deadline header we did not honour
        if (!sent) return next(call)
        const stripped = copyCall(call)
        stripped.headers = withoutTimeoutHeaders(h) as Call['headers']
        return next(stripped)
      }
      if (Number.isNaN(now)) now = clock.now()
      const remaining = at - now
      if (remaining <= 0) return Promise.reject(deadlineExceeded(call.service, 0, source))
      const bounded = inherited !== undefined && inherited.clock === clock ? inherited : new Deadline(at, clock)
      const headers = withTimeoutHeaders(h, remaining) as Call['headers']
      const budgetMs = Math.round(remaining)

      const scope = call.scope
      const out = copyCall(call)
      out.headers = headers
      out.deadline = bounded
      if (call.signal === undefined && scope !== undefined) {
        // the dispatcher's call: the deadline aborts the call's scope on the shared queue, and the
        // scope cancels the timer when the call ends — no signal, listener or reply wrapper per call
        scope.hold(timers.at(at, () => scope.abort(deadlineExceeded(call.service, budgetMs, source))))
        return next(out)
      }
      const watch = deadlineSignal(timers, at, call.signal, call.service, budgetMs, source)
      out.signal = watch.signal
      return watch.follow(next(out))
    }
  }
}

/**
 * The timeout that bounds every call of a service before its route is known: the loosest of its
 * routes' timeouts (a route without one inherits the service's), `Infinity` when any has none.
 */
export function loosestTimeout(service: ServicePolicy): number {
  const routes = service.routes ?? []
  if (routes.length === 0) return service.timeout ?? Number.POSITIVE_INFINITY
  let loosest = 0
  for (const route of routes) {
    const t = route.timeout ?? service.timeout
    if (t === undefined) return Number.POSITIVE_INFINITY
    if (t > loosest) loosest = t
  }
  return loosest
}

function checkedTimeout(value: Duration): number {
  try {
    return parseDuration(value)
  } catch (err) {
    throw new WeftError('WEFT_INVALID_ARGUMENT', `deadline: timeout: ${(err as Error).message}`, { cause: err })
  }
}
