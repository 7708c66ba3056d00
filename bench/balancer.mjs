// Balancer, outlier detection and breaker cost: ns per pick for every picker at 10, 1 000 and
// 100 000 endpoints, then µs of CPU per call for balancer + outlier detection + breaker on the
// success path. Build first: (cd packages/core && npx tsup) and the same for balancer, breaker, discovery.
//   node bench/balancer.mjs            (NODE_OPTIONS is not needed; plain Node ESM)
//   node --expose-gc bench/balancer.mjs --picker 'EWMA (P2C)'   (one picker's medians, nothing written)
import { fork } from 'node:child_process'
import { GCProfiler, getHeapStatistics } from 'node:v8'
import { createBalancer } from '@weft/balancer'
import { createBreaker } from '@weft/breaker'
import { compose } from '@weft/core'
import { testCall } from '@weft/core/testing'
import { staticSource } from '@weft/discovery'
import CircuitBreaker from 'opossum'
import { median, report } from './lib.mjs'

const SIZES = [10, 1_000, 100_000]
const PICKERS = [
  { name: 'round robin', lb: { type: 'round-robin' }, weighted: false },
  { name: 'weighted round robin', lb: { type: 'round-robin' }, weighted: true },
  { name: 'least request (P2C)', lb: { type: 'least-request' }, weighted: false },
  { name: 'least request (P2C, weighted)', lb: { type: 'least-request' }, weighted: true },
  { name: 'EWMA (P2C)', lb: { type: 'ewma' }, weighted: false },
  { name: 'ring hash', lb: { type: 'ring-hash', hashOn: { header: 'x-user' } }, weighted: false },
  { name: 'Maglev', lb: { type: 'maglev', hashOn: { header: 'x-user' } }, weighted: false },
]
const ROUNDS = 11
const PICKS = 1_000_000

function call(headers = {}) {
  return testCall({ headers })
}

function endpoints(n, weighted) {
  return Array.from({ length: n }, (_, i) => ({
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`,
    weight: weighted ? 1 + (i % 4) : 1,
  }))
}

// The endpoint a pick answers is stored, not compared or read: `e !== last` made V8 check the
// object's type, one read of every picked Endpoint, a DRAM miss at 100 000 endpoints that belongs
// to the transport, not the pick. A store only reads the slot of the pool's array.
const sink = new Array(1024).fill(undefined)

/** ns per pick over `iterations` picks. */
function timePicks(b, calls, iterations) {
  const mask = calls.length - 1
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) sink[i & 1023] = b.pick(calls[i & mask])
  return Number(process.hrtime.bigint() - t0) / iterations
}

/** Runs `f` and answers its result with the bytes it allocated: the heap's growth plus what collections freed meanwhile. */
function allocating(f) {
  const profiler = new GCProfiler()
  profiler.start()
  const before = getHeapStatistics().used_heap_size
  const result = f()
  const after = getHeapStatistics().used_heap_size
  let freed = 0
  for (const gc of profiler.stop().statistics) freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize
  return { result, bytes: after - before + freed }
}

/**
 * One picker, in a process of its own (a picker measured after others would find V8's call sites
 * already polymorphic): all three sizes are built first, so every size runs with the same heap,
 * warmed up, then timed in interleaved rounds (the order rotates) so that load from other work on
 * the machine falls on every size alike. Answers per size the median, the lowest and the highest round.
 */
function measure(p) {
  const keyed = Array.from({ length: 1024 }, (_, i) => call({ 'x-user': `user-${i}` }))
  const built = SIZES.map((n) => {
    const t0 = performance.now()
    const b = createBalancer({ source: staticSource(endpoints(n, p.weighted)), loadBalancer: p.lb, outlierDetection: false })
    return { b, build: performance.now() - t0 }
  })
  globalThis.gc?.()
  for (const { b } of built) timePicks(b, keyed, 300_000) // warm up
  const runs = SIZES.map(() => [])
  const bytes = SIZES.map(() => 0)
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < SIZES.length; k++) {
      const s = (k + r) % SIZES.length
      const round = allocating(() => timePicks(built[s].b, keyed, PICKS))
      runs[s].push(round.result)
      bytes[s] += round.bytes
    }
  }
  if (sink.some((e) => e === undefined)) throw new Error('a pick answered no endpoint')
  for (const { b } of built) b.close()
  return built.map(({ build }, s) => ({
    build,
    bytes: bytes[s] / (ROUNDS * PICKS),
    median: median(runs[s]),
    low: Math.min(...runs[s]),
    high: Math.max(...runs[s]),
  }))
}

function inChild(p) {
  return new Promise((resolve, reject) => {
    const child = fork(import.meta.filename, ['--picker', p.name], { execArgv: ['--expose-gc'] })
    child.once('message', resolve)
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`${p.name}: exit ${code}`))))
  })
}

const only = process.argv.indexOf('--picker')
if (only !== -1) {
  const p = PICKERS.find((x) => x.name === process.argv[only + 1])
  const result = measure(p)
  if (process.send === undefined) console.log(p.name, result.map((r) => `${r.median.toFixed(1)} ns ${r.bytes.toFixed(0)} B`).join(' / '))
  else process.send(result)
  process.exit(0)
}

// Whole runs repeat, interleaved across pickers, and each cell is the median of the runs' medians:
// a run's level moves with the machine's load more than the rounds within it do.
const REPEATS = 3
const measured = PICKERS.map(() => [])
for (let r = 0; r < REPEATS; r++) for (const [i, p] of PICKERS.entries()) measured[i].push(await inChild(p))
const rows = []
let spread = 0
for (const [i, p] of PICKERS.entries()) {
  const runs = measured[i]
  const cells = [p.name]
  let bytes = 0
  const ns = SIZES.map((_, s) => median(runs.map((run) => run[s].median)))
  for (const [s, n] of ns.entries()) {
    const low = Math.min(...runs.map((run) => run[s].low))
    const high = Math.max(...runs.map((run) => run[s].high))
    const build = median(runs.map((run) => run[s].build))
    bytes = Math.max(bytes, ...runs.map((run) => run[s].bytes))
    spread = Math.max(spread, (high - low) / n)
    cells.push(`${n.toFixed(0)} ns (${low.toFixed(0)}–${high.toFixed(0)})${build > 50 ? `, build ${build.toFixed(0)} ms` : ''}`)
  }
  const ratios = runs.map((run) => run[2].median / run[0].median)
  cells.push(`${(ns[2] / ns[0]).toFixed(2)}× (runs ${ratios.map((x) => x.toFixed(2)).join(', ')})`, bytes.toFixed(1))
  rows.push(cells)
}
report(
  'balancer-pickers',
  'ns per pick (Balancer.pick: subset lookup, hash key, pick)',
  ['picker', '10', '1 000', '100 000', '100k / 10', 'bytes allocated per pick'],
  rows,
  [
    `Each cell: the median of ${REPEATS} runs, each run the median of ${ROUNDS} rounds of ${PICKS.toLocaleString('en')} picks per size; in brackets the lowest and`,
    'highest round of all runs. Each run of a picker is a fresh process (`node --expose-gc`, collected after building, warmed up);',
    'within it the sizes interleave round by round, and the runs interleave across pickers. Picks with no load in flight; least',
    'request and EWMA compare two candidates per pick. Ring hash and Maglev hash an `x-user` header (1 024 distinct keys). The',
    'answer is stored, never dereferenced. Bytes per pick: heap growth plus what collections freed, over all timed rounds.',
    `Noise: the widest lowest–highest spread of one cell was ${(spread * 100).toFixed(0)} % of its median; the machine (2 cores) was shared with other work.`,
  ],
)

// The success path through the layers: µs of CPU per call, the inner handler answering at once.
const REPLY = { status: 200, headers: {}, body: undefined }
const inner = () => Promise.resolve(REPLY)

async function cpuPerCall(handler, calls) {
  for (let i = 0; i < 100_000; i++) await handler(calls[i & 1023])
  const runs = []
  for (let r = 0; r < 5; r++) {
    const n = 300_000
    const c0 = process.cpuUsage()
    for (let i = 0; i < n; i++) await handler(calls[i & 1023])
    const c = process.cpuUsage(c0)
    runs.push((c.user + c.system) / n)
  }
  return median(runs)
}

const plain = Array.from({ length: 1024 }, () => call())
const fiveEndpoints = staticSource(endpoints(5, false))
const base = await cpuPerCall(inner, plain)
const bal = createBalancer({ source: fiveEndpoints })
const balancerOnly = await cpuPerCall(bal.middleware(inner), plain)
const brk = createBreaker({ name: 'payments' })
const breakerOnly = await cpuPerCall(brk.middleware(inner), plain)
const both = createBalancer({ source: fiveEndpoints })
const brk2 = createBreaker({ name: 'payments' })
const stack = await cpuPerCall(compose(brk2.middleware, both.middleware)(inner), plain)
const opossumOff = new CircuitBreaker((c) => inner(c), {
  timeout: false,
  volumeThreshold: 20,
  rollingPercentilesEnabled: false,
  enableSnapshots: false,
})
const opossumFire = await cpuPerCall((c) => opossumOff.fire(c), plain)
opossumOff.shutdown()
const opossumOn = new CircuitBreaker((c) => inner(c), { timeout: 10_000, volumeThreshold: 20 })
const opossumFireTimeout = await cpuPerCall((c) => opossumOn.fire(c), plain)
opossumOn.shutdown()
brk.close()
brk2.close()

const us = (x) => `${(x - base).toFixed(2)} µs`
report(
  'balancer-layers',
  'µs of CPU per call on the success path, above an inner handler that answers at once',
  ['layers', 'added CPU per call'],
  [
    ['balancer (EWMA P2C, 5 endpoints) + outlier detection', us(balancerOnly)],
    ['breaker (opossum, timeout off, shared window ticker)', us(breakerOnly)],
    ['breaker + balancer + outlier detection', us(stack)],
    ['opossum fire() alone, timeout: false', us(opossumFire)],
    ['opossum fire() alone, timeout 10 s (its default; a setTimeout per call)', us(opossumFireTimeout)],
  ],
  [`Baseline (awaiting the inner handler alone): ${base.toFixed(2)} µs per call, subtracted. Median of 5 runs of 300 000 calls.`],
)
