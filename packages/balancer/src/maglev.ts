/**
 * Maglev consistent hashing (Google's Maglev paper, as in Envoy): a lookup table of a prime size M
 * filled from each endpoint's own permutation of slots, in proportion to weight. A pick is one table
 * read, O(1); removing one of N endpoints moves about 1/N of the keys.
 */
import type { EndpointState } from './endpoint-state.js'
import { hashString } from './hash.js'
import { EMPTY_PICKER, HASH, ONLY_PICKER, type Picker, type PickInput } from './picker.js'
import { randomIndex } from './random.js'

/** Table sizes: primes; the first at least 10 × the endpoints is used (65 537, Envoy's default, up to 6 553 endpoints). */
const PRIMES = [65_537, 131_071, 262_139, 524_287, 1_048_573, 2_097_143, 4_194_301, 8_388_593, 16_777_213]

export function maglevTableSize(n: number): number {
  for (const p of PRIMES) if (p >= 10 * n) return p
  return PRIMES[PRIMES.length - 1] as number
}

export function maglev(endpoints: readonly EndpointState[], input: PickInput, tableSize = maglevTableSize(endpoints.length)): Picker {
  const n = endpoints.length
  if (n <= 1) return n === 1 ? ONLY_PICKER : EMPTY_PICKER
  const table = maglevTable(
    endpoints.map((s) => s.address),
    endpoints.map((s) => s.endpoint.weight),
    tableSize,
  )
  const m = table.length
  return {
    pick() {
      const hash = input[HASH] as number
      if (hash < 0) return randomIndex(n)
      return table[hash % m] as number
    },
  }
}

/** Fills a table of `size` (prime) slots with endpoint indices. */
export function maglevTable(names: readonly string[], weights: readonly number[], size: number): Int32Array {
  const n = names.length
  const offset = new Float64Array(n)
  const skip = new Float64Array(n)
  const next = new Float64Array(n)
  const target = new Float64Array(n)
  const placed = new Float64Array(n)
  let maxWeight = 0
  for (const w of weights) maxWeight = Math.max(maxWeight, w)
  for (let i = 0; i < n; i++) {
    const name = names[i] as string
    offset[i] = hashString(name, 0x2f1a) % size
    skip[i] = (hashString(name, 0x6b43) % (size - 1)) + 1
  }
  const table = new Int32Array(size).fill(-1)
  let filled = 0
  for (;;) {
    for (let i = 0; i < n; i++) {
      // weighted: an endpoint takes a turn only while it is behind its share (Envoy's scheme)
      target[i] = (target[i] as number) + (weights[i] as number) / maxWeight
      if ((placed[i] as number) + 1 > (target[i] as number)) continue
      let c = ((offset[i] as number) + (next[i] as number) * (skip[i] as number)) % size
      while ((table[c] as number) >= 0) {
        next[i] = (next[i] as number) + 1
        c = ((offset[i] as number) + (next[i] as number) * (skip[i] as number)) % size
      }
      table[c] = i
      next[i] = (next[i] as number) + 1
      placed[i] = (placed[i] as number) + 1
      if (++filled === size) return table
    }
  }
}
