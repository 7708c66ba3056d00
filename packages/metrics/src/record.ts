/**
 * What the attempt layer, below retry, tells the request layer, above it, about one call: the
 * route it matched and how many tries it took. It rides on the call's `record` field, which every
 * layer's copy (`copyCall`) carries along.
 */
import type { Call } from '@weft/core'

export interface CallRecord {
  route: string | undefined
  attempts: number
  /** The last try's outcome (its reply or error) and when it ended: the request layer reuses the time when it gets that same outcome, saving a clock read (~100 ns here). */
  lastOutcome: unknown
  endedAt: number
}

/** The metrics layer's record on `call`, if one is above it. */
export function recordOf(call: Call): CallRecord | undefined {
  return call.record as CallRecord | undefined
}
