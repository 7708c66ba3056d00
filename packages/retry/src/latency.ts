/**
 * Observed latency of a route's tries, for hedging at a percentile (Finagle's backup requests): a
 * log-bucketed histogram that halves itself as it fills, so old samples fade; O(1) amortized.
 */

/** Buckets per doubling of latency: about 9 % wide each. */
const PER_DOUBLING = 8
const BUCKETS = 20 * PER_DOUBLING
/** Latency of bucket 0, ms; the last bucket is about 0.1 ms × 2^20 ≈ 105 s. */
const FLOOR_MS = 0.1
/** Samples before a percentile is trusted. */
const MIN_SAMPLES = 20
/** Halve every count once this many samples are held, so the histogram follows changes. */
const DECAY_AT = 2000
/** Recompute the percentile every this many samples. */
const RECOMPUTE_EVERY = 16

export class LatencyTracker {
  readonly #counts = new Float64Array(BUCKETS)
  #total = 0
  #sinceRecompute = 0
  #cachedFor = -1
  #cached: number | undefined

  /** Records one try's time to its response head, in ms. */
  record(ms: number): void {
    const b = ms <= FLOOR_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log2(ms / FLOOR_MS) * PER_DOUBLING))
    this.#counts[b] = (this.#counts[b] as number) + 1
    if (++this.#total >= DECAY_AT) {
      for (let i = 0; i < BUCKETS; i++) this.#counts[i] = (this.#counts[i] as number) / 2
      this.#total /= 2
    }
    if (++this.#sinceRecompute >= RECOMPUTE_EVERY) this.#cachedFor = -1
  }

  /** Samples held (decayed). */
  get count(): number {
    return this.#total
  }

  /** The latency (upper bucket bound, ms) below which `p` percent of tries finished; `undefined` with too few samples. */
  percentile(p: number): number | undefined {
    if (this.#total < MIN_SAMPLES) return undefined
    if (this.#cachedFor === p) return this.#cached
    const above = (this.#total * (100 - p)) / 100
    let seen = 0
    let b = BUCKETS - 1
    for (; b > 0; b--) {
      seen += this.#counts[b] as number
      if (seen > above) break
    }
    this.#cached = FLOOR_MS * 2 ** ((b + 1) / PER_DOUBLING)
    this.#cachedFor = p
    this.#sinceRecompute = 0
    return this.#cached
  }
}
