/** The picker contract: choose one of a fixed list of endpoints in O(1) (ring hash O(log n)), with no allocation. */
import type { EndpointState } from './endpoint-state.js'

export interface Picker {
  /**
   * Picks an endpoint; `now` is monotonic ms (for EWMA and slow start), `hash` a 32-bit key for
   * ring hash and Maglev, or -1 when the call has none. `undefined` only for an empty list.
   */
  pick(now: number, hash: number): EndpointState | undefined
}

/** No endpoint to pick. */
export const EMPTY_PICKER: Picker = { pick: () => undefined }
