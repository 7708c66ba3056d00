/** Durations as the policy writes them: `250ms`, `2s`, `1m`, `1h`, `1m30s`, or a number of milliseconds. */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const DURATION = /^(?:(\d{1,9}(?:\.\d{1,6})?)(ms|s|m|h))+$/
const PART = /(\d{1,9}(?:\.\d{1,6})?)(ms|s|m|h)/g

/** The longest duration weft accepts: about 24.8 days, the most a Node timer can wait. */
export const MAX_DURATION_MS = 2_147_483_647

export type Duration = string | number

/**
 * Parses a duration into milliseconds. Throws a RangeError naming the input when it is
 * negative, not finite, malformed (`10 s`, `1e3ms`) or longer than MAX_DURATION_MS.
 */
export function parseDuration(input: Duration): number {
  let ms: number
  if (typeof input === 'number') {
    ms = input
  } else if (typeof input === 'string' && input.length <= 64 && DURATION.test(input)) {
    ms = 0
    for (const [, value, unit] of input.matchAll(PART)) ms += Number(value) * (UNIT_MS[unit as string] as number)
  } else {
    throw new RangeError(
      `invalid duration ${JSON.stringify(String(input).slice(0, 64))}: use a number of milliseconds or a string like 250ms, 2s, 1m`,
    )
  }
  if (!Number.isFinite(ms) || ms < 0)
    throw new RangeError(`invalid duration ${String(input).slice(0, 64)}: must be a finite, non-negative number of milliseconds`)
  if (ms > MAX_DURATION_MS)
    throw new RangeError(`duration ${String(input).slice(0, 64)} is longer than the maximum of ${MAX_DURATION_MS}ms (about 24.8 days)`)
  return ms
}

/** Formats milliseconds the way the policy writes them (`1.5s`, `250ms`). */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms >= 1000) return `${ms / 1000}s`
  return `${ms}ms`
}
