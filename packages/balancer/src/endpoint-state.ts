/**
 * What the balancer knows about one endpoint: load, latency, health. Kept by address across
 * endpoint list changes. The numbers every pick reads (in-flight, the latency score) live in
 * typed arrays shared by the service's endpoints, indexed by `id`: a pick among 100 000
 * endpoints then reads compact arrays instead of chasing one boxed number per field.
 */
import type { Endpoint } from '@weft/core'

export type EndpointHealth = 'healthy' | 'ejected' | 'probing'

/**
 * The hot numbers of every endpoint of a service, one slot per endpoint: `inFlight[id]` is its calls
 * in flight and `score[id]` its peak-EWMA estimate as EWMA compares it (see `scoreOf`). In-flight
 * counts are whole numbers in an array of their own, 4 bytes per endpoint: least request reads
 * nothing else, and 100 000 endpoints' counts (400 KB) still fit in this machine's 512 KB L2. The
 * score is one double, 800 KB more at 100 000. One 32-byte record of everything was measured and was
 * slower: at 100 000 endpoints the 3.2 MB outgrows L2, and two independent misses per candidate
 * overlap anyway (bench/results/balancer-pickers.md).
 */
export class HotState {
  readonly inFlight: Int32Array
  readonly score: Float64Array

  constructor(size: number) {
    this.inFlight = new Int32Array(size)
    this.score = new Float64Array(size)
  }
}

/**
 * An estimate of `rtt` ms taken at monotonic ms `stamp`, as a number EWMA can compare without an
 * exponential: the estimate at time t is rtt × e^(−(t − stamp) / decay), so its logarithm is
 * ln(rtt) + stamp / decay − t / decay. The last term is the same for every endpoint at one pick, so
 * the score leaves it out; what is left grows with the stamp, never with idle time, so it neither
 * underflows nor overflows a double for as long as a process runs. A 0 ms estimate scores −∞; the
 * pick floors every estimate at 1 µs (`ewma`).
 */
export function scoreOf(rtt: number, stamp: number, decay: number): number {
  return Math.log(rtt) + stamp / decay
}

export class EndpointState {
  endpoint: Endpoint
  readonly address: string
  /** `[address]`, frozen: the `tried` list of a first attempt, made once instead of per call. */
  readonly onlyThis: readonly string[]
  /** Where this endpoint's hot numbers are: `hot.*[id]`. */
  hot: HotState
  id: number
  /** The peak-EWMA estimate in ms when last updated, and that time (monotonic ms); see `setEstimate`. */
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

  constructor(endpoint: Endpoint, hot: HotState, id: number, rtt: number, now: number, decay: number) {
    this.endpoint = endpoint
    this.address = endpoint.address
    this.onlyThis = Object.freeze([endpoint.address])
    this.hot = hot
    this.id = id
    this.rtt = rtt
    this.stamp = now
    hot.score[id] = scoreOf(rtt, now, decay)
  }

  /** Sets the latency estimate (ms) and when it was taken, and the score EWMA compares. */
  setEstimate(rtt: number, stamp: number, decay: number): void {
    this.rtt = rtt
    this.stamp = stamp
    this.hot.score[this.id] = scoreOf(rtt, stamp, decay)
  }

  /** Calls sent and not yet answered (reply head or error). */
  get inFlight(): number {
    return this.hot.inFlight[this.id] as number
  }
  set inFlight(v: number) {
    this.hot.inFlight[this.id] = v
  }

  /** Moves the hot numbers to slot `id` of `hot` (the endpoint list changed). */
  moveTo(hot: HotState, id: number): void {
    const inFlight = this.inFlight
    const score = this.hot.score[this.id] as number
    this.hot = hot
    this.id = id
    this.inFlight = inFlight
    hot.score[id] = score
  }
}
