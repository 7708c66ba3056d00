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
}

export type RecordedCall = Call & { readonly [RECORD]?: CallRecord }
