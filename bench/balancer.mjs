// Balancer, outlier detection and breaker cost: ns per pick for every picker at 10, 1 000 and
// 100 000 endpoints, then µs of CPU per call for balancer + outlier detection + breaker on the
// success path. Build first: (cd packages/core && npx tsup) and the same for balancer, breaker, discovery.
//   node bench/balancer.mjs            (NODE_OPTIONS is not needed; plain Node ESM)
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

function call(headers = {}) {
  return testCall({ headers })
}

function endpoints(n, weighted) {
  return Array.from({ length: n }, (_, i) => ({
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`,
    weight: weighted ? 1 + (i % 4) : 1,
  }))
}

/** ns per pick: the best of 7 runs of `iterations` picks (the least disturbed by other work on the machine). */
function timePicks(b, calls, iterations) {
  const mask = calls.length - 1
  // the endpoint is compared, not read: what the balancer costs ends where the transport starts
  let last
  let changes = 0
  for (let i = 0; i < 200_000; i++) last = b.pick(calls[i & mask]) // warm up
  const runs = []
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) {
      const e = b.pick(calls[i & mask])
      if (e !== last) changes++
      last = e
    }
    runs.push(Number(process.hrtime.bigint() - t0) / iterations)
  }
  if (changes < 0) console.log('')
  return Math.min(...runs)
}

const keyed = Array.from({ length: 1024 }, (_, i) => call({ 'x-user': `user-${i}` }))
const rows = []
for (const p of PICKERS) {
  const cells = [p.name]
  for (const n of SIZES) {
    const t0 = performance.now()
    const b = createBalancer({ source: staticSource(endpoints(n, p.weighted)), loadBalancer: p.lb, outlierDetection: false })
    const build = performance.now() - t0
    const ns = timePicks(b, keyed, 2_000_000)
    cells.push(`${ns.toFixed(0)} ns${build > 50 ? ` (build ${build.toFixed(0)} ms)` : ''}`)
    b.close()
  }
  const first = Number.parseFloat(cells[1])
  const last = Number.parseFloat(cells[3])
  cells.push(`${(last / first).toFixed(2)}×`)
  rows.push(cells)
}
report(
  'balancer-pickers',
  'ns per pick (Balancer.pick: subset lookup, hash key, pick)',
  ['picker', '10', '1 000', '100 000', '100k / 10'],
  rows,
  [
    'Picks with no load in flight; least request and EWMA compare two candidates per pick. Ring hash and Maglev hash an `x-user` header (1 024 distinct keys).',
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
