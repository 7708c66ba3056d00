/**
 * The metrics layer: counts every call once, with its fate, and times it from entering the stack
 * to the reply's head ("effective" latency); publishes a summary to the tap while someone listens.
 * On the client it stands outside retry, so a call counts once and its tries apart.
 */
import { type Call, copyCall, type Direction, type Middleware, type Reply, WeftError, warnAside, weftErrorOf } from '@weft/core'
import { errorFate, type Fate, replyFate } from './fate.js'
import type { MeshMetrics } from './mesh-metrics.js'
import type { CallRecord } from './record.js'
import { fateIndex, methodIndex, type ServiceStats } from './store.js'

export interface MetricsOptions {
  /** The mesh's metrics, from `createMeshMetrics`. Required. */
  meter: MeshMetrics
  /** The service: the one called (outbound) or this process's own (inbound). Required. */
  service: string
  /** Default `'outbound'`. */
  direction?: Direction
}

const MAX_TAP_PATH = 512

/** Counts and times every call through the stack. */
export function metrics(options: MetricsOptions): Middleware {
  const meter = options?.meter
  if (meter === undefined || typeof meter.store !== 'object')
    throw new WeftError('WEFT_INVALID_ARGUMENT', 'metrics: `meter` (from createMeshMetrics) is required')
  if (typeof options.service !== 'string') throw new WeftError('WEFT_INVALID_ARGUMENT', 'metrics: `service` is required')
  const direction = options.direction ?? 'outbound'
  const { clock, tap } = meter

  return (next) => {
    const stats = meter.store.service(direction, options.service)

    function done(
      call: Call,
      route: string | undefined,
      status: number,
      fate: Fate,
      attempts: number,
      error: unknown,
      endedAt?: number,
    ): void {
      const ms = (endedAt ?? clock.monotonic()) - call.startedAt
      const r = stats.route(route ?? '')
      r.count(methodIndex(call.method), status < 600 ? status : 0, fateIndex(fate))
      r.duration.observe(ms)
      if (attempts > 1) r.retries += attempts - 1
      if (tap.active) {
        // run beside the call's promise chain: a subscriber's throw must not become an unhandled rejection
        try {
          publish(stats, call, r.route, status, fate, attempts, ms, error)
        } catch (err) {
          warnAside('a tap subscriber threw', err)
        }
      }
    }

    if (direction === 'inbound') {
      return function measuredInbound(call: Call): Promise<Reply> {
        stats.inFlight++
        return next(call).then(
          (reply) => {
            stats.inFlight--
            done(call, call.route, reply.status, replyFate(reply), 1, undefined)
            return reply
          },
          (err: unknown) => {
            stats.inFlight--
            done(call, call.route, statusOfError(err), errorFate(err), 1, err)
            throw err
          },
        )
      }
    }

    return function measured(call: Call): Promise<Reply> {
      stats.inFlight++
      const record: CallRecord = { route: call.route, attempts: 0, lastOutcome: undefined, endedAt: 0 }
      const counted = copyCall(call)
      counted.record = record
      const pending = next(counted)
      // observed beside the chain, not in it: the caller gets the very promise from below, and no
      // derived promise is resolved with the reply (each such hop costs a microtask and a `then` lookup)
      pending.then(
        (reply) => {
          stats.inFlight--
          const tries = reply.attempts ?? 1
          // the last try's reply handed straight up: it ended when that try did
          done(
            call,
            record.route,
            reply.status,
            replyFate(reply),
            tries > record.attempts ? tries : record.attempts,
            undefined,
            record.lastOutcome === reply ? record.endedAt : undefined,
          )
        },
        (err: unknown) => {
          stats.inFlight--
          const details = weftErrorOf(err)?.details
          const route = record.route ?? (typeof details?.route === 'string' ? details.route : undefined)
          const attempt = typeof details?.attempt === 'number' ? details.attempt : 1
          done(
            call,
            route,
            0,
            errorFate(err),
            attempt > record.attempts ? attempt : record.attempts,
            err,
            record.lastOutcome === err ? record.endedAt : undefined,
          )
        },
      )
      return pending
    }
  }

  function publish(
    stats: ServiceStats,
    call: Call,
    route: string,
    status: number,
    fate: Fate,
    attempts: number,
    ms: number,
    error: unknown,
  ) {
    tap.publish({
      time: clock.now(),
      direction: stats.direction,
      service: stats.service,
      route,
      method: call.method,
      authority: call.authority,
      path: call.path.length > MAX_TAP_PATH ? call.path.slice(0, MAX_TAP_PATH) : call.path,
      status,
      latencyMs: Math.round(ms * 1000) / 1000,
      attempts,
      fate,
      error: weftErrorOf(error)?.code,
      peer: call.peer?.identity,
      traceId: call.trace?.traceId,
    })
  }
}

/** Inbound, a failure of the stack is answered with its WeftError's status (a shed is 503). */
function statusOfError(err: unknown): number {
  const weft = weftErrorOf(err)
  return weft === undefined ? 500 : weft.status
}
