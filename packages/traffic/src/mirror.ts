/**
 * The mirror layer: copies a percentage of a route's calls to a subset, fire and forget. It stands
 * just above the balancer, below retry, the concurrency limit and the circuit breaker, so a dead or
 * slow mirror never spends the real calls' retry budget, slots or breaker window.
 */
import { type Call, type Clock, copyCall, createTimerQueue, type Middleware, type Reply, systemClock, type TimerQueue } from '@weft/core'
import type { MirrorPolicy, ServicePolicy } from '@weft/policy'

export interface MirrorOptions {
  /** The service whose routes' `mirror` sections this layer acts on (by `call.route`). */
  service: ServicePolicy
  /** Uniform in [0, 1), for the mirror percentage. Default `Math.random`. */
  random?: () => number
  /** Mirrored calls in flight at most, per service; extra mirrors are dropped. Default `64`. */
  maxInFlight?: number
  /**
   * A mirrored call is cut off at the real call's deadline, or this many ms after it started when
   * the real call has none, so a mirror that never answers cannot hold its slot. Default `15000`
   * (Envoy's default route timeout).
   */
  timeout?: number
  /** Clock for that cut-off; tests pass a ManualClock. Default `systemClock`. */
  clock?: Clock
  /** The mesh's shared timer queue; default one of the layer's own on `clock`. */
  timers?: TimerQueue
}

export const MIRROR_DEFAULTS = { maxInFlight: 64, timeout: 15_000 } as const

/** `undefined` when no route of the service mirrors: the layer is left out of the stack. */
export function mirror(options: MirrorOptions): Middleware | undefined {
  const random = options.random ?? Math.random
  const maxInFlight = options.maxInFlight ?? MIRROR_DEFAULTS.maxInFlight
  const timeout = options.timeout ?? MIRROR_DEFAULTS.timeout
  const clock = options.clock ?? systemClock
  const byRoute = new Map<string, MirrorPolicy>()
  for (const r of options.service.routes) if (r.mirror !== undefined && r.mirror.percent > 0) byRoute.set(r.name, r.mirror)
  if (byRoute.size === 0) return undefined

  return (next) => {
    const timers = options.timers ?? createTimerQueue(clock)
    let inFlight = 0

    /** Sends the copy on its own signal, cut off by the queue; whatever happens, the slot comes back. */
    const send = (copy: Call, controller: AbortController) => {
      inFlight++
      const timer = timers.at(Math.min(copy.deadline?.at ?? Number.POSITIVE_INFINITY, clock.now() + timeout), () => controller.abort())
      const settled = () => {
        inFlight--
        timer.cancel()
      }
      try {
        next(copy).then((reply: Reply) => {
          settled()
          reply.body?.discard()
        }, settled)
      } catch {
        settled() // a layer that throws instead of rejecting
      }
    }

    return function mirroring(call) {
      // once per request: retries and hedges of the real call are not mirrored again
      const m = call.attempt === 1 && call.route !== undefined ? byRoute.get(call.route) : undefined
      if (m !== undefined && call.replayable && inFlight < maxInFlight && random() * 100 < m.percent) {
        const authority = `${call.authority}-shadow`
        const controller = new AbortController()
        // fire and forget: the copy's answer is thrown away and its failure never reaches the caller
        const shadow = copyCall(call)
        shadow.subset = m.subset
        shadow.authority = authority
        shadow.headers = { ...call.headers, host: authority }
        shadow.signal = controller.signal
        shadow.scope = undefined
        send(shadow, controller)
      }
      return next(call)
    }
  }
}
