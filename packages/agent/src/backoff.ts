/** Exponential backoff with full jitter (AWS's "full jitter"): each wait is uniform in [0, min(max, base × 2^n)). */

export interface BackoffSettings {
  /** First ceiling in ms. */
  base: number
  /** Largest ceiling in ms. */
  max: number
  /** Uniform in [0, 1); tests pass a fixed one. */
  random: () => number
}

export interface Backoff {
  /** The next wait in ms; each call doubles the ceiling up to `max`. */
  next(): number
  /** After a success: the next failure starts from `base` again. */
  reset(): void
  /** Failures since the last reset. */
  readonly failures: number
}

export function createBackoff(settings: BackoffSettings): Backoff {
  let failures = 0
  return {
    next() {
      const ceiling = Math.min(settings.max, settings.base * 2 ** Math.min(failures, 30))
      failures++
      return Math.floor(settings.random() * ceiling)
    },
    reset() {
      failures = 0
    },
    get failures() {
      return failures
    },
  }
}
