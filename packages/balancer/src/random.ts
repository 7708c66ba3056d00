/** A fast xorshift32 generator for picks: Math.random costs tens of ns here, this a few. Not for anything secret. */
let x = (Math.random() * 4294967296) >>> 0 || 0x9e3779b9

/** A uniform integer in [0, n). */
export function randomIndex(n: number): number {
  x ^= x << 13
  x ^= x >>> 17
  x ^= x << 5
  return ((x >>> 0) * n * 2.3283064365386963e-10) | 0
}

/** A uniform number in [0, 1). */
export function randomUnit(): number {
  x ^= x << 13
  x ^= x >>> 17
  x ^= x << 5
  return (x >>> 0) * 2.3283064365386963e-10
}

/**
 * True with probability `chances[i]`: `randomUnit() < chances[i]` for a pick, where V8 would box
 * the double `randomUnit` returns (16 bytes) when it does not inline the call.
 */
export function chance(chances: Float64Array, i: number): boolean {
  x ^= x << 13
  x ^= x >>> 17
  x ^= x << 5
  return (x >>> 0) * 2.3283064365386963e-10 < (chances[i] as number)
}
