/**
 * Ring hash (consistent hashing, Ketama-style): each endpoint owns points on a 32-bit ring in
 * proportion to its weight; a key goes to the first point at or after its hash. Removing one of N
 * endpoints moves only the keys it owned, about 1/N. A pick is a binary search, O(log n).
 */
import type { EndpointState } from './endpoint-state.js'
import { hashString } from './hash.js'
import { EMPTY_PICKER, HASH, ONLY_PICKER, type Picker, type PickInput } from './picker.js'
import { randomIndex } from './random.js'

export interface RingHashOptions {
  /** Points on the ring at least. Default 1024 (Envoy's `minimum_ring_size`). */
  minimumRingSize?: number
  /** Points on the ring at most. Default 1 048 576 (Envoy allows 8 388 608; a smaller ring rebuilds fast when health changes). */
  maximumRingSize?: number
}

/** Ring points per unit of endpoint weight (Ketama uses 160 per server). */
const POINTS_PER_WEIGHT = 128

export function ringHash(endpoints: readonly EndpointState[], input: PickInput, options: RingHashOptions = {}): Picker {
  const n = endpoints.length
  if (n <= 1) return n === 1 ? ONLY_PICKER : EMPTY_PICKER
  const min = options.minimumRingSize ?? 1024
  const max = options.maximumRingSize ?? 1_048_576
  // points per unit of weight do not depend on how many endpoints there are, so removing one
  // leaves every other endpoint's points where they were and only its own keys move
  let counts = endpoints.map((s) => Math.max(1, Math.round(POINTS_PER_WEIGHT * s.endpoint.weight)))
  let size = counts.reduce((a, b) => a + b, 0)
  if (size < min) {
    const k = Math.ceil(min / size)
    counts = counts.map((c) => c * k)
  } else if (size > max) counts = counts.map((c) => Math.max(1, Math.floor((c * max) / size)))
  size = counts.reduce((a, b) => a + b, 0)

  // a point is hash × 2^21 + owner, so one numeric sort orders the ring and keeps the owner
  const packed = new Float64Array(size)
  let k = 0
  endpoints.forEach((s, owner) => {
    const c = counts[owner] as number
    const base = hashString(s.address)
    for (let i = 0; i < c; i++) packed[k++] = pointHash(base, i) * 2_097_152 + owner
  })
  packed.sort()
  const points = new Uint32Array(size)
  const owners = new Int32Array(size)
  for (let i = 0; i < size; i++) {
    const p = packed[i] as number
    const h = Math.floor(p / 2_097_152)
    points[i] = h
    owners[i] = p - h * 2_097_152
  }

  return {
    pick() {
      const hash = input[HASH] as number
      if (hash < 0) return randomIndex(n)
      let lo = 0
      let hi = size
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if ((points[mid] as number) < hash) lo = mid + 1
        else hi = mid
      }
      return owners[lo === size ? 0 : lo] as number
    },
  }
}

/** The i-th point of an endpoint: its address hash mixed with i (murmur3's finaliser), no string built. */
function pointHash(base: number, i: number): number {
  let h = (base ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
