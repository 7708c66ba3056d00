/** A fast 32-bit string hash (FNV-1a with murmur3's finaliser for avalanche), used for hash keys and ring positions. */

const scratch = new Float64Array(1)

/** Hashes a string to an unsigned 32-bit integer; no allocation. */
export function hashString(s: string, seed = 0): number {
  hashInto(scratch, 0, s, seed)
  return scratch[0] as number
}

/**
 * Writes `hashString(s, seed)` to `out[at]`: the door for a pick, since V8 boxes an integer over
 * 2^30 returned from a function it does not inline (16 bytes a pick).
 */
export function hashInto(out: Float64Array, at: number, s: string, seed = 0): void {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  out[at] = h >>> 0
}
