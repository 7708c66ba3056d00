/**
 * A latency histogram kept in plain numbers: observing is a bucket search and three additions,
 * with no label hashing (prom-client's `observe` costs 0.5–1.4 µs); the registry reads it at scrape.
 */

/** Upper bounds in seconds, as Prometheus `le` labels: 1 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class HistogramCell {
  /** Observations per bucket (not cumulative); the last slot is `+Inf`. */
  readonly counts: Float64Array
  sum = 0
  count = 0
  readonly #boundsMs: Float64Array

  constructor(boundsMs: Float64Array) {
    this.#boundsMs = boundsMs
    this.counts = new Float64Array(boundsMs.length + 1)
  }

  /** Records one duration in milliseconds. */
  observe(ms: number): void {
    const bounds = this.#boundsMs
    let i = 0
    while (i < bounds.length && ms > (bounds[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.sum += ms
    this.count++
  }

  /** The value at quantile `q` (0–1) in milliseconds, interpolated inside its bucket as `histogram_quantile` does. */
  quantile(q: number): number {
    return quantileOf(Array.from(this.#boundsMs), Array.from(this.counts), q)
  }
}

/** Bucket bounds in milliseconds from bounds in seconds, checked. */
export function boundsInMs(bucketsSeconds: readonly number[]): Float64Array {
  const ms = new Float64Array(bucketsSeconds.length)
  let prev = 0
  bucketsSeconds.forEach((b, i) => {
    if (!(Number.isFinite(b) && b > prev))
      throw new RangeError(`buckets must be finite, positive and increasing; got ${bucketsSeconds.join(', ')}`)
    prev = b
    ms[i] = b * 1000
  })
  return ms
}

/**
 * The quantile of a histogram given upper bounds and per-bucket (not cumulative) counts, the last
 * count being `+Inf`. Interpolates linearly inside the bucket; `NaN` with no observations.
 */
export function quantileOf(bounds: readonly number[], counts: readonly number[], q: number): number {
  const total = counts.reduce((a, b) => a + b, 0)
  if (total === 0) return Number.NaN
  const rank = q * total
  let seen = 0
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number
    if (seen + c >= rank && c > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1] as number // in +Inf: the highest finite bound
      const lower = i === 0 ? 0 : (bounds[i - 1] as number)
      const upper = bounds[i] as number
      return lower + (upper - lower) * ((rank - seen) / c)
    }
    seen += c
  }
  return bounds[bounds.length - 1] as number
}
