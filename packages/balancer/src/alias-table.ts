/** Vose's alias method: draws an index in proportion to its weight in O(1), after an O(n) build. */
import { chance, randomIndex } from './random.js'

export interface AliasTable {
  /** An index drawn in proportion to its weight. */
  sample(): number
}

export function aliasTable(weights: readonly number[]): AliasTable {
  const n = weights.length
  const prob = new Float64Array(n)
  const alias = new Int32Array(n)
  let sum = 0
  for (const w of weights) sum += w
  const scaled = weights.map((w) => (w * n) / sum)
  const small: number[] = []
  const large: number[] = []
  for (let i = 0; i < n; i++) ((scaled[i] as number) < 1 ? small : large).push(i)
  while (small.length > 0 && large.length > 0) {
    const s = small.pop() as number
    const l = large.pop() as number
    prob[s] = scaled[s] as number
    alias[s] = l
    scaled[l] = (scaled[l] as number) + (scaled[s] as number) - 1
    ;((scaled[l] as number) < 1 ? small : large).push(l)
  }
  for (const i of large) prob[i] = 1
  for (const i of small) prob[i] = 1 // rounding leftovers
  return {
    sample() {
      const i = randomIndex(n)
      return chance(prob, i) ? i : (alias[i] as number)
    },
  }
}
