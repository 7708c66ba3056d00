/**
 * What the balancer knows about one endpoint: load, latency, health. Kept by address across
 * endpoint list changes. The numbers every pick reads (in-flight, latency estimate and its time)
 * live in typed arrays shared by the service's endpoints, indexed by `id`: a pick among 100 000
 * endpoints then reads compact arrays instead of chasing one boxed number per field.
 */
import type { Endpoint } from '@weft/core'

export type EndpointHealth = 'healthy' | 'ejected' | 'probing'

/**
 * The hot numbers of every endpoint of a service, one slot per endpoint: `inFlight[id]` is its calls
 * in flight, `latency[id * 2 + RTT]` its peak-EWMA estimate in ms and `latency[id * 2 + STAMP]` the
 * monotonic ms it was last updated. In-flight counts are whole numbers in an array of their own,
 * 4 bytes per endpoint: least request reads nothing else, and 100 000 endpoints' counts (400 KB)
 * still fit in this machine's 512 KB L2. The estimate and its time, which EWMA reads together,
 * share one 16-byte record (never split across cache lines). One 32-byte record of everything was
 * measured and was slower: at 100 000 endpoints the 3.2 MB outgrows L2, and two independent
 * misses per candidate overlap anyway (bench/results/balancer-pickers.md).
 */
export class HotState {
  readonly inFlight: Int32Array
  readonly latency: Float64Array

  constructor(size: number) {
    this.inFlight = new Int32Array(size)
    this.latency = new Float64Array(size * 2)
  }
}

export const RTT = 0
export const STAMP = 1

export class EndpointState {
  endpoint: Endpoint
  readonly address: string
  /** `[address]`, frozen: the `tried` list of a first attempt, made once instead of per call. */
  readonly onlyThis: readonly string[]
  /** Where this endpoint's hot numbers are: `hot.*[id]`. */
  hot: HotState
  id: number
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

  constructor(endpoint: Endpoint, hot: HotState, id: number, rtt: number, now: number) {
    this.endpoint = endpoint
    this.address = endpoint.address
    this.onlyThis = Object.freeze([endpoint.address])
    this.hot = hot
    this.id = id
    hot.latency[id * 2 + RTT] = rtt
    hot.latency[id * 2 + STAMP] = now
  }

  /** Calls sent and not yet answered (reply head or error). */
  get inFlight(): number {
    return this.hot.inFlight[this.id] as number
  }
  set inFlight(v: number) {
    this.hot.inFlight[this.id] = v
  }
  get rtt(): number {
    return this.hot.latency[this.id * 2 + RTT] as number
  }
  set rtt(v: number) {
    this.hot.latency[this.id * 2 + RTT] = v
  }
  get stamp(): number {
    return this.hot.latency[this.id * 2 + STAMP] as number
  }
  set stamp(v: number) {
    this.hot.latency[this.id * 2 + STAMP] = v
  }

  /** Moves the hot numbers to slot `id` of `hot` (the endpoint list changed). */
  moveTo(hot: HotState, id: number): void {
    const inFlight = this.inFlight
    const rtt = this.rtt
    const stamp = this.stamp
    this.hot = hot
    this.id = id
    this.inFlight = inFlight
    this.rtt = rtt
    this.stamp = stamp
  }
}
