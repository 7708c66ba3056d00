/** The picker contract: choose one of a fixed list of endpoints in O(1) (ring hash O(log n)), with no allocation. */

export interface Picker {
  /**
   * Picks an endpoint and answers its index in the list the picker was built on (an index, not the
   * object, so that a pick touches only compact arrays); -1 only for an empty list. What a pick
   * needs besides the endpoints it reads from the balancer's `PickInput`.
   */
  pick(): number
}

/**
 * What the balancer sets just before each pick: `[NOW]` monotonic ms (for EWMA and slow start), `[HASH]` a
 * 32-bit key for ring hash and Maglev, or -1 when the call has none. A typed-array cell rather
 * than arguments: V8 boxes a double (and an integer over 2^30) passed to a function it does not
 * inline, 16 bytes per pick.
 */
export type PickInput = Float64Array
export const NOW = 0
export const HASH = 1

export function pickInput(): PickInput {
  return new Float64Array(2)
}

/** The picker of a one-endpoint list. */
export const ONLY_PICKER: Picker = { pick: () => 0 }

/** No endpoint to pick. */
export const EMPTY_PICKER: Picker = { pick: () => -1 }
