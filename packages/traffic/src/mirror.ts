/**
 * The mirror layer: copies a percentage of a route's calls to a subset, fire and forget. It stands
 * just above the balancer, below retry, the concurrency limit and the circuit breaker, so a dead or
 * slow mirror never spends the real calls' retry budget, slots or breaker window.
 */
import type { Call, Middleware, Reply } from '@weft/core'
import type { MirrorPolicy, ServicePolicy } from '@weft/policy'

export interface MirrorOptions {
  /** The service whose routes' `mirror` sections this layer acts on (by `call.route`). */
  service: ServicePolicy
  /** Uniform in [0, 1), for the mirror percentage. Default `Math.random`. */
  random?: () => number
  /** Mirrored calls in flight at most, per service; extra mirrors are dropped. Default `64`. */
  maxInFlight?: number
}

export const MIRROR_DEFAULTS = { maxInFlight: 64 } as const

/** `undefined` when no route of the service mirrors: the layer is left out of the stack. */
export function mirror(options: MirrorOptions): Middleware | undefined {
  const random = options.random ?? Math.random
  const maxInFlight = options.maxInFlight ?? MIRROR_DEFAULTS.maxInFlight
  const byRoute = new Map<string, MirrorPolicy>()
  for (const r of options.service.routes) if (r.mirror !== undefined && r.mirror.percent > 0) byRoute.set(r.name, r.mirror)
  if (byRoute.size === 0) return undefined

  return (next) => {
    let inFlight = 0
    const settled = () => {
      inFlight--
    }
    const discard = (reply: Reply) => {
      inFlight--
      reply.body?.discard()
    }

    return function mirroring(call) {
      // once per request: retries and hedges of the real call are not mirrored again
      const m = call.attempt === 1 && call.route !== undefined ? byRoute.get(call.route) : undefined
      if (m !== undefined && call.replayable && inFlight < maxInFlight && random() * 100 < m.percent) {
        inFlight++
        const authority = `${call.authority}-shadow`
        const copy: Call = { ...call, subset: m.subset, authority, headers: { ...call.headers, host: authority }, signal: undefined }
        // fire and forget: the copy's answer is thrown away and its failure never reaches the caller
        try {
          next(copy).then(discard, settled)
        } catch {
          settled() // a layer that throws instead of rejecting
        }
      }
      return next(call)
    }
  }
}
