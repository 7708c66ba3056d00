/**
 * What the attempt layer, below retry, tells the request layer, above it, about one call: the
 * route it matched and how many tries it took. It rides on the call under a private symbol, which
 * every layer's `{ ...call }` copies along.
 */
import type { Call } from '@weft/core'

export const RECORD = Symbol('weft.metrics.call')

export interface CallRecord {
  route: string | undefined
  attempts: number
  /** The last try's outcome (its reply or error) and when it ended: the request layer reuses the time when it gets that same outcome, saving a clock read (~100 ns here). */
  lastOutcome: unknown
  endedAt: number
}

export type RecordedCall = Call & { readonly [RECORD]?: CallRecord }
