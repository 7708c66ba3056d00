/** The picker contract: choose one of a fixed list of endpoints in O(1) (ring hash O(log n)), with no allocation. */

export interface Picker {
  /**
   * Picks an endpoint and answers its index in the list the picker was built on (an index, not the
   * object, so that a pick touches only compact arrays); `now` is monotonic ms (for EWMA), `hash`
   * a 32-bit key for ring hash and Maglev, or -1 when the call has none. -1 only for an empty list.
   */
  pick(now: number, hash: number): number
}

/** The picker of a one-endpoint list. */
export const ONLY_PICKER: Picker = { pick: () => 0 }

/** No endpoint to pick. */
export const EMPTY_PICKER: Picker = { pick: () => -1 }
