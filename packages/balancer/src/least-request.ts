/**
 * Least request with power of two choices (Envoy's LEAST_REQUEST): draw two endpoints, send to the
 * one with fewer calls in flight. With unequal weights the two are drawn in proportion to weight
 * and the winner has the higher `weight / (inFlight + 1) ^ activeRequestBias` (Envoy's formula,
 * which Envoy applies in an O(log n) schedule; here it stays O(1)).
 */
import { aliasTable } from './alias-table.js'
import type { EndpointState } from './endpoint-state.js'
import { inSlotOrder } from './ewma.js'
import { EMPTY_PICKER, ONLY_PICKER, type Picker } from './picker.js'
import { randomIndex } from './random.js'

export function leastRequest(endpoints: readonly EndpointState[], activeRequestBias = 1): Picker {
  const n = endpoints.length
  if (n <= 1) return n === 1 ? ONLY_PICKER : EMPTY_PICKER
  const inFlight = (endpoints[0] as EndpointState).hot.inFlight
  const slots = Int32Array.from(endpoints, (s) => s.id)
  const weights = Float64Array.from(endpoints, (s) => s.endpoint.weight)
  if (weights.every((w) => w === weights[0]) && inSlotOrder(endpoints)) {
    // every endpoint of the service, none ejected: the index is the slot, one memory read fewer per candidate
    return {
      pick() {
        const i = randomIndex(n)
        let j = randomIndex(n - 1)
        if (j >= i) j++
        return (inFlight[j] as number) < (inFlight[i] as number) ? j : i
      },
    }
  }
  if (weights.every((w) => w === weights[0])) {
    return {
      pick() {
        const i = randomIndex(n)
        let j = randomIndex(n - 1)
        if (j >= i) j++
        return (inFlight[slots[j] as number] as number) < (inFlight[slots[i] as number] as number) ? j : i
      },
    }
  }
  const table = aliasTable(Array.from(weights))
  const bias = activeRequestBias
  const score = (k: number) => {
    const active = (inFlight[slots[k] as number] as number) + 1
    return (weights[k] as number) / (bias === 1 ? active : active ** bias)
  }
  return {
    pick() {
      const i = table.sample()
      let j = table.sample()
      if (j === i) j = table.sample()
      return score(j) > score(i) ? j : i
    },
  }
}
