/**
 * Least request with power of two choices (Envoy's LEAST_REQUEST): draw two endpoints, send to the
 * one with fewer calls in flight. With unequal weights the two are drawn in proportion to weight
 * and the winner has the higher `weight / (inFlight + 1) ^ activeRequestBias` (Envoy's formula,
 * which Envoy applies in an O(log n) schedule; here it stays O(1)).
 */
import { aliasTable } from './alias-table.js'
import type { EndpointState } from './endpoint-state.js'
import type { Picker } from './picker.js'

export function leastRequest(endpoints: readonly EndpointState[], activeRequestBias = 1): Picker {
  const n = endpoints.length
  if (n <= 1) return { pick: () => endpoints[0] }
  const weights = endpoints.map((s) => s.endpoint.weight)
  if (weights.every((w) => w === weights[0])) {
    return {
      pick() {
        const i = (Math.random() * n) | 0
        let j = (Math.random() * (n - 1)) | 0
        if (j >= i) j++
        const a = endpoints[i] as EndpointState
        const b = endpoints[j] as EndpointState
        return b.inFlight < a.inFlight ? b : a
      },
    }
  }
  const table = aliasTable(weights)
  const bias = activeRequestBias
  const score =
    bias === 1
      ? (s: EndpointState) => s.endpoint.weight / (s.inFlight + 1)
      : bias === 0
        ? (s: EndpointState) => s.endpoint.weight
        : (s: EndpointState) => s.endpoint.weight / (s.inFlight + 1) ** bias
  return {
    pick() {
      const a = endpoints[table.sample()] as EndpointState
      let b = endpoints[table.sample()] as EndpointState
      if (b === a) b = endpoints[table.sample()] as EndpointState
      return score(b) > score(a) ? b : a
    },
  }
}
