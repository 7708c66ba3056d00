/**
 * The server deadline layer: reads the caller's budget from the deadline headers, answers 504 at
 * once when it is already gone, and otherwise puts the deadline and a signal that fires when it
 * passes on the call the handler sees (`currentCall().signal`).
 */
import {
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
import { deadlineSignal } from './deadline-signal.js'
import { ENVOY_TIMEOUT_HEADER, GRPC_TIMEOUT_HEADER, type InvalidHeaderListener, readTimeoutHeaders } from './header-codec.js'
import { type DeadlineStats, inboundDeadlineStats } from './stats.js'

export interface InboundDeadlineOptions {
  /** The longest deadline a caller may set; longer ones are cut to it (never passed raw to a timer). Default `5m`. */
  maxInboundTimeout?: Duration
  /**
   * The shortest deadline honoured; shorter ones (`0` included) are raised to it. For services that
   * take calls from outside the mesh, so a caller cannot force shedding with a tiny deadline. Default `0` (off).
   */
  minInboundTimeout?: Duration
  /** The deadline of a request that arrives with no valid deadline header. Default none. */
  defaultTimeout?: Duration
  /** Where invalid headers, sheds and expiries are counted. Default the process-wide `inboundDeadlineStats`. */
  stats?: DeadlineStats
  /** Called with the name and (at most 64 characters of) the value of every invalid deadline header. Default none. */
  onInvalidHeader?: InvalidHeaderListener
  /** Reads the time. Default `systemClock`. */
  clock?: Clock
  /** The shared timer queue for the handlers' signals. Default: one per stack on `clock`. */
  timers?: TimerQueue
}

export const INBOUND_DEADLINE_DEFAULTS = { maxInboundTimeout: 300_000, minInboundTimeout: 0 } as const

/**
 * Extracts the inbound deadline (`x-weft-timeout`, `grpc-timeout`, `x-envoy-expected-rq-timeout-ms`;
 * the smallest valid one wins, garbage is counted and ignored), sheds a request that arrives
 * expired with `WEFT_DEADLINE_EXCEEDED` (a 504) without running the handler, and aborts the
 * handler's signal when the deadline passes.
 */
export function inboundDeadline(options: InboundDeadlineOptions = {}): Middleware {
  const clock = options.clock ?? systemClock
  const max = duration('maxInboundTimeout', options.maxInboundTimeout, INBOUND_DEADLINE_DEFAULTS.maxInboundTimeout)
  const min = Math.min(max, duration('minInboundTimeout', options.minInboundTimeout, INBOUND_DEADLINE_DEFAULTS.minInboundTimeout))
  const fallback = options.defaultTimeout === undefined ? undefined : Math.min(max, duration('defaultTimeout', options.defaultTimeout, 0))
  const stats = options.stats ?? inboundDeadlineStats
  const listener = options.onInvalidHeader
  const onInvalid: InvalidHeaderListener = (header, value) => {
    stats.invalid[header as keyof DeadlineStats['invalid']]++
    listener?.(header, value)
  }

  return (next) => {
    const timers = options.timers ?? createTimerQueue(clock)

    return async function extracting(call: Call): Promise<Reply> {
      const h = call.headers
      let ms: number | undefined
      if (h['x-weft-timeout'] !== undefined || h[GRPC_TIMEOUT_HEADER] !== undefined || h[ENVOY_TIMEOUT_HEADER] !== undefined) {
        ms = readTimeoutHeaders(h, onInvalid)
        if (ms !== undefined && (ms > max || ms < min)) {
          ms = ms > max ? max : min
          stats.clamped++
        }
      }
      if (ms === undefined) {
        if (fallback === undefined) return next(call)
        ms = fallback
      }
      if (ms === 0) {
        stats.shed++
        throw new WeftError(
          'WEFT_DEADLINE_EXCEEDED',
          `request to ${call.service} ${call.method} ${call.path.slice(0, 256)} arrived with no time left`,
          {
            details: { service: call.service, budgetMs: 0 },
          },
        )
      }
      const now = clock.now()
      let at = now + ms
      let deadline: Deadline | undefined
      if (call.deadline !== undefined && call.deadline.at < at) {
        at = call.deadline.at
        deadline = call.deadline
      }
      const watch = deadlineSignal(timers, at, call.signal, call.service, ms, 'header')
      try {
        const bounded = copyCall(call)
        bounded.deadline = deadline ?? new Deadline(at, clock)
        bounded.signal = watch.signal
        return await next(bounded)
      } finally {
        if (watch.timedOut) stats.expired++
        watch.release()
      }
    }
  }
}

function duration(name: string, value: Duration | undefined, fallback: number): number {
  if (value === undefined) return fallback
  try {
    return parseDuration(value)
  } catch (err) {
    throw new WeftError('WEFT_INVALID_ARGUMENT', `inboundDeadline: ${name}: ${(err as Error).message}`, { cause: err })
  }
}
