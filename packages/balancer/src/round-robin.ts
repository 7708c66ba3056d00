/** Round robin: each endpoint in turn, starting at a random place so that many clients do not move in step. */
import type { EndpointState } from './endpoint-state.js'
import type { Picker } from './picker.js'

export function roundRobin(endpoints: readonly EndpointState[]): Picker {
  const n = endpoints.length
  let next = Math.floor(Math.random() * n)
  return {
    pick() {
      if (n === 0) return -1
      const k = next
      next = next + 1 === n ? 0 : next + 1
      return k
    },
  }
}
