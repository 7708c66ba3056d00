// What one cache miss costs on this machine, to read bench/results/balancer-pickers.md against:
// ns per load for a dependent chain (each load gives the next index: latency) and for independent
// random loads (they overlap: throughput), over working sets from L1 to beyond L3.
//   node bench/memory-latency.mjs
import { median } from './lib.mjs'

/** One element per 64-byte line, linked in a random cycle. */
function chain(bytes) {
  const lines = bytes / 64
  const next = new Int32Array(lines * 16)
  const order = Array.from({ length: lines }, (_, i) => i)
  for (let i = lines - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  for (let i = 0; i < lines; i++) next[order[i] * 16] = order[(i + 1) % lines] * 16
  return next
}

function dependent(next, loads) {
  let p = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < loads; i++) p = next[p]
  return { ns: Number(process.hrtime.bigint() - t0) / loads, p }
}

function independent(values, loads) {
  const n = values.length
  let x = 0x9e3779b9
  let sum = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < loads; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    sum += values[((x >>> 0) * n * 2.3283064365386963e-10) | 0]
  }
  return { ns: Number(process.hrtime.bigint() - t0) / loads, sum }
}

console.log('| working set | dependent load | independent random load |')
console.log('| --- | --- | --- |')
for (const kib of [16, 256, 800, 1600, 3200, 6400, 16_000, 64_000]) {
  const next = chain(kib * 1024)
  const values = new Float64Array((kib * 1024) / 8)
  dependent(next, 1_000_000)
  independent(values, 1_000_000)
  const d = []
  const r = []
  for (let k = 0; k < 5; k++) {
    d.push(dependent(next, 4_000_000).ns)
    r.push(independent(values, 4_000_000).ns)
  }
  console.log(`| ${kib.toLocaleString('en')} KiB | ${median(d).toFixed(1)} ns | ${median(r).toFixed(1)} ns |`)
}
