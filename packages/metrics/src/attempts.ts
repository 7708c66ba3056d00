/**
 * The attempt layer, last before the transport: times each try on the wire ("actual" latency,
 * successes and failures apart) with its endpoint, tells the metrics layer above retry which route
 * the call took and how many tries it made, and hands each try to observers (the trace layer's
 * attempt spans). It needs nothing from the retry layer but the call it passes down.
 */
import { type Call, type Clock, type Middleware, type Outcome, type Reply, systemClock, warnAside } from '@weft/core'
import type { MeshMetrics } from './mesh-metrics.js'
import { recordOf } from './record.js'

/** Told about every try after it ends. `@weft/trace`'s `traceAttempts` is one. */
export interface AttemptObserver {
  attempt(call: Call, outcome: Outcome, durationMs: number): void
}

export interface AttemptOptions {
  /** The mesh's metrics; without it tries are only passed to `observers`. */
  meter?: MeshMetrics
  /** The service called. Required with `meter`. */
  service?: string
  /** Told about every try. Default none. */
  observers?: readonly (AttemptObserver | undefined)[]
  /** Default the meter's clock, else `systemClock`. */
  clock?: Clock
}

/** Times and reports every try; the first try starts when its call entered the stack. */
export function observeAttempts(options: AttemptOptions = {}): Middleware {
  const meter = options.meter
  const clock = options.clock ?? meter?.clock ?? systemClock
  const observers = (options.observers ?? []).filter((o): o is AttemptObserver => o !== undefined)

  return (next) => {
    const stats = meter?.store.service('outbound', options.service ?? '')

    function report(call: Call, started: number, reply: Reply | undefined, error: unknown): void {
      const now = clock.monotonic()
      const ms = now - started
      const record = recordOf(call)
      if (record !== undefined) {
        record.route = call.route
        if (call.attempt > record.attempts) record.attempts = call.attempt
        record.lastOutcome = reply ?? error
        record.endedAt = now
      }
      if (stats !== undefined) {
        const r = stats.route(call.route ?? '')
        if (reply !== undefined && reply.status < 500) r.attemptsOk.observe(ms)
        else r.attemptsFailed.observe(ms)
      }
      if (observers.length > 0) {
        const o: Outcome = reply !== undefined ? { reply } : { error }
        for (let i = 0; i < observers.length; i++) {
          // reported beside the call's promise chain: an observer's throw must not become an unhandled rejection
          try {
            ;(observers[i] as AttemptObserver).attempt(call, o, ms)
          } catch (err) {
            warnAside('an attempt observer threw', err)
          }
        }
      }
    }

    return function attempted(call: Call): Promise<Reply> {
      const started = call.attempt === 1 ? call.startedAt : clock.monotonic()
      const pending = next(call)
      // observed beside the chain, as the metrics layer does: the balancer above gets the
      // transport's own promise, one microtask and one promise resolution sooner
      pending.then(
        (reply) => report(call, started, reply, undefined),
        (error: unknown) => report(call, started, undefined, error),
      )
      return pending
    }
  }
}
