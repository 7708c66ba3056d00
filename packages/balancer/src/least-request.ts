/**
 * Least request with power of two choices (Envoy's LEAST_REQUEST): draw two endpoints, send to the
 * one with fewer calls in flight. With unequal weights the two are drawn in proportion to weight
 * and the winner has the higher `weight / (inFlight + 1) ^ activeRequestBias` (Envoy's formula,
 * which Envoy applies in an O(log n) schedule; here it stays O(1)).
 */
import { aliasTable } from './alias-table.js'
import type { EndpointState } from './endpoint-state.js'
import { slotsOf } from './ewma.js'
import { EMPTY_PICKER, ONLY_PICKER, type Picker } from './picker.js'
import { randomIndex } from './random.js'

export function leastRequest(endpoints: readonly EndpointState[], activeRequestBias = 1): Picker {
  const n = endpoints.length
  if (n <= 1) return n === 1 ? ONLY_PICKER : EMPTY_PICKER
  const inFlight = (endpoints[0] as EndpointState).hot.inFlight
  const slots = slotsOf(endpoints)
  const weights = Float64Array.from(endpoints, (s) => s.endpoint.weight)
  if (weights.every((w) => w === weights[0])) {
    return {
      pick() {
        const i = randomIndex(n)
        let j = randomIndex(n - 1)
        if (j >= i) j++
        const a = inFlight[slots === undefined ? i : (slots[i] as number)] as number
        const b = inFlight[slots === undefined ? j : (slots[j] as number)] as number
        return b < a ? j : i
      },
    }
  }
  const table = aliasTable(Array.from(weights))
  // whole weights (the usual case) fit 4 bytes exactly: half the memory a score reads
  const compact = Float32Array.from(weights)
  const scoreWeights = compact.every((w, i) => w === weights[i]) ? compact : weights
  const bias = activeRequestBias
  return {
    pick() {
      const i = table.sample()
      let j = table.sample()
      if (j === i) j = table.sample()
      // both candidates' loads before either score, so that their cache misses overlap
      const activeI = (inFlight[slots === undefined ? i : (slots[i] as number)] as number) + 1
      const activeJ = (inFlight[slots === undefined ? j : (slots[j] as number)] as number) + 1
      const weightI = scoreWeights[i] as number
      const weightJ = scoreWeights[j] as number
      const scoreI = weightI / (bias === 1 ? activeI : activeI ** bias)
      const scoreJ = weightJ / (bias === 1 ? activeJ : activeJ ** bias)
      return scoreJ > scoreI ? j : i
    },
  }
}
