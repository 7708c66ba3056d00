/** What the balancer knows about one endpoint: load, latency, health. Kept by address across endpoint list changes. */
import type { Endpoint } from '@weft/core'

export type EndpointHealth = 'healthy' | 'ejected' | 'probing'

export class EndpointState {
  endpoint: Endpoint
  readonly address: string
  /** `[address]`, frozen: the `tried` list of a first attempt, made once instead of per call. */
  readonly onlyThis: readonly string[]
  /** Calls sent and not yet answered (reply head or error). */
  inFlight = 0
  /** Peak-EWMA latency estimate in ms, and the monotonic time it was last updated. */
  rtt: number
  stamp: number
  /** Monotonic ms when slow start began (added, or back from ejection); `undefined` when not ramping. */
  slowStartFrom: number | undefined = undefined

  // outlier detection
  consecutive5xx = 0
  consecutiveGatewayErrors = 0
  /** Successes and failures since the last interval tick (success-rate and failure-percentage checks). */
  intervalSuccesses = 0
  intervalFailures = 0
  health: EndpointHealth = 'healthy'
  /** Epoch ms when an ejected endpoint may return. */
  ejectedUntil = 0
  ejectionReason: string | undefined = undefined
  /** Ejections so far; multiplies the ejection time; decays while healthy. */
  ejections = 0

  // counts for operators
  requests = 0
  failures = 0

  constructor(endpoint: Endpoint, rtt: number, now: number) {
    this.endpoint = endpoint
    this.address = endpoint.address
    this.onlyThis = Object.freeze([endpoint.address])
    this.rtt = rtt
    this.stamp = now
  }
}
