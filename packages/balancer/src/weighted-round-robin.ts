/**
 * Smooth weighted round robin: endpoints in proportion to their `weight`, interleaved rather than
 * in bursts (as nginx's smooth WRR). The order is computed once per endpoint list by earliest
 * deadline first into a schedule table, so a pick is one array read, whatever the number of endpoints.
 */
import type { EndpointState } from './endpoint-state.js'
import type { Picker } from './picker.js'
import { roundRobin } from './round-robin.js'

/** Smooth weighted round robin; with equal weights it is plain round robin. */
export function weightedRoundRobin(endpoints: readonly EndpointState[]): Picker {
  const weights = endpoints.map((s) => s.endpoint.weight)
  if (weights.every((w) => w === weights[0])) return roundRobin(endpoints)
  const schedule = smoothSchedule(weights)
  const length = schedule.length
  let next = Math.floor(Math.random() * length)
  return {
    pick() {
      const k = schedule[next] as number
      next = next + 1 === length ? 0 : next + 1
      return k
    },
  }
}

/**
 * One full cycle of picks in which index i appears in proportion to `weights[i]`, spread evenly.
 * Integer weights give an exact cycle of `sum / gcd` slots when that fits; otherwise weights are
 * scaled to the table size (each endpoint keeps at least one slot).
 */
export function smoothSchedule(weights: readonly number[]): Int32Array {
  const n = weights.length
  const limit = Math.max(1 << 16, 16 * n)
  let slots: number[]
  if (weights.every(Number.isInteger)) {
    const g = weights.reduce((a, b) => gcd(a, b))
    slots = weights.map((w) => w / g)
  } else slots = weights.slice()
  let total = slots.reduce((a, b) => a + b, 0)
  if (total > limit || !slots.every(Number.isInteger)) {
    const sum = total
    slots = weights.map((w) => Math.max(1, Math.round((w * Math.min(limit, 1000 * n)) / sum)))
    total = slots.reduce((a, b) => a + b, 0)
  }

  if (total * n <= 4_000_000) return nginxSchedule(slots, total)
  return edfSchedule(slots, total)
}

/** nginx's smooth weighted round robin, run for one cycle: O(total × n), so only for small tables. */
function nginxSchedule(slots: readonly number[], total: number): Int32Array {
  const n = slots.length
  const current = new Float64Array(n)
  const schedule = new Int32Array(total)
  for (let k = 0; k < total; k++) {
    let best = 0
    for (let i = 0; i < n; i++) {
      current[i] = (current[i] as number) + (slots[i] as number)
      if ((current[i] as number) > (current[best] as number)) best = i
    }
    current[best] = (current[best] as number) - total
    schedule[k] = best
  }
  return schedule
}

/** Earliest deadline first: endpoint i's k-th slot is due at (k + ½) / slots[i]; O(total × log n). */
function edfSchedule(slots: readonly number[], total: number): Int32Array {
  const n = slots.length
  const heapAt = new Float64Array(n)
  const heapIdx = new Int32Array(n)
  const sent = new Float64Array(n)
  let size = 0
  const less = (a: number, b: number) =>
    (heapAt[a] as number) < (heapAt[b] as number) || (heapAt[a] === heapAt[b] && (heapIdx[a] as number) < (heapIdx[b] as number))
  const swap = (a: number, b: number) => {
    const t = heapAt[a] as number
    heapAt[a] = heapAt[b] as number
    heapAt[b] = t
    const u = heapIdx[a] as number
    heapIdx[a] = heapIdx[b] as number
    heapIdx[b] = u
  }
  const up = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(i, p)) break
      swap(i, p)
      i = p
    }
  }
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1
      if (l >= size) return
      const r = l + 1
      const c = r < size && less(r, l) ? r : l
      if (!less(c, i)) return
      swap(c, i)
      i = c
    }
  }
  for (let i = 0; i < n; i++) {
    heapAt[size] = 0.5 / (slots[i] as number)
    heapIdx[size] = i
    up(size++)
  }
  const schedule = new Int32Array(total)
  for (let k = 0; k < total; k++) {
    const i = heapIdx[0] as number
    schedule[k] = i
    sent[i] = (sent[i] as number) + 1
    heapAt[0] = ((sent[i] as number) + 0.5) / (slots[i] as number)
    down(0)
  }
  return schedule
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}
