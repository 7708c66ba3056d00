/**
 * Outlier detection with Envoy's semantics: an endpoint is ejected at once after `consecutive5xx`
 * failures or `consecutiveGatewayErrors` gateway errors, and at each `interval` by success rate or
 * failure percentage; it stays out for `baseEjectionTime` × its number of ejections (capped), then
 * comes back on probation (Linkerd): its first failure sends it straight back out. Never more than
 * `maxEjectionPercent` of the endpoints are out, but one may always go when there are two or more.
 */
import type { Clock, OutcomeKind, TimerHandle, TimerQueue, Verdict } from '@weft/core'
import type { OutlierDetectionPolicy } from '@weft/policy'
import type { EndpointState } from './endpoint-state.js'

export const OUTLIER_DETECTION_DEFAULTS: OutlierDetectionPolicy = {
  consecutive5xx: 5,
  consecutiveGatewayErrors: 5,
  interval: 10_000,
  baseEjectionTime: 30_000,
  maxEjectionTime: 300_000,
  maxEjectionPercent: 50,
  panicThreshold: 50,
  successRate: undefined,
  failurePercentage: undefined,
}

/** Outcomes that say nothing about the endpoint: the caller gave up, or weft refused before sending. */
const NEUTRAL = new Set<OutcomeKind>(['aborted', 'deadline', 'circuit-open', 'no-endpoint', 'overloaded'])
/** Envoy's gateway errors, transport failures included (they surface as 502/503/504 there). */
const GATEWAY = new Set<OutcomeKind>([502, 503, 504, 'connect-failure', 'reset', 'refused-stream', 'timeout'])

/** How many of `n` endpoints may be out at once. */
export function maxEjections(n: number, maxEjectionPercent: number): number {
  const byPercent = Math.floor((n * maxEjectionPercent) / 100)
  return n >= 2 ? Math.max(1, byPercent) : byPercent
}

export class OutlierDetector {
  readonly #policy: OutlierDetectionPolicy
  readonly #clock: Clock
  readonly #timers: TimerQueue
  readonly #members: () => readonly EndpointState[]
  readonly #changed: (returned: readonly EndpointState[]) => void
  #tick: TimerHandle | undefined
  /** Outcomes seen since the last tick; no traffic and nothing ejected lets the timer stop. */
  #seen = 0
  #closed = false

  constructor(
    policy: OutlierDetectionPolicy,
    clock: Clock,
    timers: TimerQueue,
    members: () => readonly EndpointState[],
    changed: (returned: readonly EndpointState[]) => void,
  ) {
    this.#policy = policy
    this.#clock = clock
    this.#timers = timers
    this.#members = members
    this.#changed = changed
  }

  get policy(): OutlierDetectionPolicy {
    return this.#policy
  }

  /** Feeds one outcome of a call sent to `s`. */
  record(s: EndpointState, kind: OutcomeKind, verdict: Verdict): void {
    if (NEUTRAL.has(kind)) return
    this.#seen++
    if (this.#tick === undefined) this.#arm()
    if (verdict === 'success') {
      s.consecutive5xx = 0
      s.consecutiveGatewayErrors = 0
      s.intervalSuccesses++
      if (s.health === 'probing') s.health = 'healthy'
      return
    }
    s.intervalFailures++
    s.consecutive5xx++
    if (GATEWAY.has(kind)) s.consecutiveGatewayErrors++
    else s.consecutiveGatewayErrors = 0
    if (s.health === 'ejected') return
    const p = this.#policy
    const reason =
      s.health === 'probing'
        ? 'failed on probation'
        : s.consecutive5xx >= p.consecutive5xx
          ? `${s.consecutive5xx} consecutive 5xx`
          : s.consecutiveGatewayErrors >= p.consecutiveGatewayErrors
            ? `${s.consecutiveGatewayErrors} consecutive gateway errors`
            : undefined
    if (reason !== undefined && this.#eject(s, reason)) this.#changed([])
  }

  /** Ejected endpoints now. */
  ejectedCount(): number {
    let k = 0
    for (const s of this.#members()) if (s.health === 'ejected') k++
    return k
  }

  /** Starts the interval timer when an endpoint is out (after inheriting state), so it comes back in time. */
  wake(): void {
    if (this.#tick === undefined && this.#members().some((s) => s.health !== 'healthy')) this.#arm()
  }

  /** Stops the interval timer. */
  close(): void {
    this.#closed = true
    this.#tick?.cancel()
    this.#tick = undefined
  }

  #eject(s: EndpointState, reason: string): boolean {
    const members = this.#members()
    if (this.ejectedCount() >= maxEjections(members.length, this.#policy.maxEjectionPercent)) return false
    s.ejections++
    const p = this.#policy
    s.health = 'ejected'
    s.ejectedUntil = this.#clock.now() + Math.min(p.baseEjectionTime * s.ejections, Math.max(p.maxEjectionTime, p.baseEjectionTime))
    s.ejectionReason = reason
    s.consecutive5xx = 0
    s.consecutiveGatewayErrors = 0
    if (this.#tick === undefined) this.#arm()
    return true
  }

  #arm() {
    if (this.#closed) return
    this.#tick = this.#timers.at(this.#clock.now() + this.#policy.interval, () => this.#interval())
  }

  /** The interval: returns endpoints whose time is up, runs the statistical checks, resets the counts. */
  #interval() {
    this.#tick = undefined
    const now = this.#clock.now()
    const members = this.#members()
    const returned: EndpointState[] = []
    let changed = false
    for (const s of members) {
      if (s.health === 'ejected') {
        if (now >= s.ejectedUntil) {
          s.health = 'probing'
          s.consecutive5xx = 0
          s.consecutiveGatewayErrors = 0
          returned.push(s)
          changed = true
        }
      } else if (s.ejections > 0 && s.health === 'healthy') s.ejections--
    }
    if (this.#successRate(members)) changed = true
    if (this.#failurePercentage(members)) changed = true
    let anyOut = false
    for (const s of members) {
      s.intervalSuccesses = 0
      s.intervalFailures = 0
      if (s.health !== 'healthy') anyOut = true
    }
    const busy = this.#seen > 0
    this.#seen = 0
    if (changed) this.#changed(returned)
    if (busy || anyOut) this.#arm()
  }

  #successRate(members: readonly EndpointState[]): boolean {
    const sr = this.#policy.successRate
    if (sr === undefined) return false
    const rates: number[] = []
    const hosts: EndpointState[] = []
    for (const s of members) {
      const volume = s.intervalSuccesses + s.intervalFailures
      if (s.health === 'ejected' || volume < sr.requestVolume) continue
      rates.push(s.intervalSuccesses / volume)
      hosts.push(s)
    }
    if (hosts.length < sr.minimumHosts || hosts.length === 0) return false
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length
    const stdev = Math.sqrt(rates.reduce((a, r) => a + (r - mean) ** 2, 0) / rates.length)
    const floor = mean - sr.stdevFactor * stdev
    let ejected = false
    hosts.forEach((s, i) => {
      const rate = rates[i] as number
      if (rate < floor && this.#eject(s, `success rate ${pct(rate)} below ${pct(floor)}`)) ejected = true
    })
    return ejected
  }

  #failurePercentage(members: readonly EndpointState[]): boolean {
    const fp = this.#policy.failurePercentage
    if (fp === undefined) return false
    const hosts = members.filter((s) => s.health !== 'ejected' && s.intervalSuccesses + s.intervalFailures >= fp.requestVolume)
    if (hosts.length < fp.minimumHosts || hosts.length === 0) return false
    let ejected = false
    for (const s of hosts) {
      const failed = (100 * s.intervalFailures) / (s.intervalSuccesses + s.intervalFailures)
      if (failed >= fp.threshold && this.#eject(s, `failure percentage ${failed.toFixed(1)}% at or above ${fp.threshold}%`)) ejected = true
    }
    return ejected
  }
}

function pct(r: number): string {
  return `${(r * 100).toFixed(1)}%`
}
