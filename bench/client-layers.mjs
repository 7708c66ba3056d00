// The client stack's own cost, in process: createMesh's layers (clientLayers, built as createMesh
// builds them) around a terminal handler that answers at once — no network, no dispatcher, no
// undici. What is left over raw undici in bench/client.mjs and client-instructions.mjs is the
// dispatcher, the exchange, the try and undici's handling of the headers a mesh call adds.
// Also each layer's share: the stack's first k layers against its first k − 1.
//   npm run build && node bench/client-layers.mjs
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { clientLayers } from '@weft/client'
import { AbortScope, buildStack, createTimerQueue, systemClock } from '@weft/core'
import { testCall } from '@weft/core/testing'
import { createEndpointSource } from '@weft/discovery'
import { createMeshMetrics } from '@weft/metrics'
import { parsePolicy } from '@weft/policy'
import { median, report } from './lib.mjs'

const IN_FLIGHT = 64
const CALLS = Number(process.env.BENCH_CALLS ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)

const SERVICES = {
  'pass-through (round robin, one try, no breaker or outlier detection)': {
    loadBalancer: 'round-robin',
    retries: { attempts: 1 },
    circuitBreaker: false,
    outlierDetection: false,
  },
  'default (EWMA, retries, breaker, outlier detection)': {},
  'default with a 2 s service timeout': { timeout: '2s' },
}

const clock = systemClock
const mesh = { self: 'bench', clock, timers: createTimerQueue(clock), metrics: createMeshMetrics({ clock }), tracing: {} }
const REPLY = { status: 200, headers: {}, body: undefined }
const terminal = () => Promise.resolve(REPLY)

/** The stack of `service`'s first `k` layers of clientLayers (all when k is omitted), and the roles built. */
function stackOf(service, k = clientLayers.length) {
  const policy = parsePolicy({ apiVersion: 'weft.dev/v1', services: { upstream: { endpoints: [{ address: '127.0.0.1:1' }], ...service } } })
  const svc = policy.services.upstream
  const ctx = { mesh, service: svc, endpoints: createEndpointSource(svc, { clock }), handles: {}, previous: undefined }
  return buildStack(clientLayers.slice(0, k), ctx, terminal)
}

/** A call as the dispatcher makes one: every field, the exchange as its scope, the host header. */
const dispatcherCall = () =>
  testCall({
    service: 'upstream',
    authority: 'upstream',
    headers: { host: 'upstream', 'x-weft-attempt': '1' },
    scope: new AbortScope(),
    startedAt: clock.monotonic(),
  })

/** ns per call of `handler` with IN_FLIGHT calls in flight; the scope ends when the call does, as the exchange's would. */
async function nsPerCall(handler) {
  let left = CALLS
  const worker = async () => {
    while (left-- > 0) {
      const call = dispatcherCall()
      await handler(call)
      call.scope.end()
    }
  }
  globalThis.gc?.()
  const start = process.hrtime.bigint()
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  return Number(process.hrtime.bigint() - start) / CALLS
}

// One process per variant and round, so that no variant's call sites see another's handlers: a
// stack in a process of its own, as a service's stack is in a process with one upstream
const variants = []
for (const [name, service] of Object.entries(SERVICES)) {
  variants.push({ name, service, k: clientLayers.length })
  for (let k = 1; k <= clientLayers.length; k++) {
    const role = clientLayers[k - 1].role
    if (!stackOf(service, k).roles.includes(role)) continue // left out for this policy
    variants.push({ name: `${name} / ${role}`, stack: name, role, service, k })
  }
}

if (process.argv[2] === 'child') {
  const v = variants[Number(process.argv[3])]
  const handler = stackOf(v.service, v.k).handler
  await nsPerCall(terminal)
  await nsPerCall(handler) // warm-up: both reach optimised code
  const base = []
  const over = []
  for (let i = 0; i < 3; i++) {
    base.push(await nsPerCall(terminal))
    over.push(await nsPerCall(handler))
  }
  process.send({ base: median(base), ns: median(over) - median(base) })
  process.exit(0)
}

const run = (i) =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['child', String(i)], { execArgv: ['--expose-gc'] })
    child.once('message', resolve)
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`variant ${variants[i].name} exited ${code}`))))
  })

const samples = variants.map(() => [])
const bases = []
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < variants.length; i++) {
    const { base, ns } = await run(i)
    samples[i].push(ns)
    bases.push(base)
  }
}
const ns = (name) => median(samples[variants.findIndex((v) => v.name === name)])

const rows = []
for (const name of Object.keys(SERVICES)) {
  rows.push([`**${name}**: ${stackOf(SERVICES[name]).roles.join(' → ')}`, `**${ns(name).toFixed(0)}**`])
  let before = 0
  for (const v of variants.filter((x) => x.stack === name)) {
    const at = ns(v.name)
    rows.push([`&nbsp;&nbsp;+ ${v.role}`, (at - before).toFixed(0)])
    before = at
  }
}
for (const r of rows) console.log(r.join('  '))

report(
  'client-layers',
  "client stack's own cost in process (no network, no dispatcher)",
  ['stack / layer added', 'ns per call over the terminal alone'],
  rows,
  [
    `The stacks createMesh builds (clientLayers, over the real policy, metrics, trace and balancer), around a terminal that answers at once; ${IN_FLIGHT} calls in flight, each call made as the dispatcher makes one (every field, an AbortScope). One process per variant and round (${ROUNDS} rounds, interleaved), each timing ${CALLS} calls of the terminal alone and of the stack three times after a warm-up, alternately; median of the rounds. The terminal alone: ${median(bases).toFixed(0)} ns a call, subtracted.`,
    "A layer's row is the stack of the layers down to it less the stack of those above it: its own cost plus one more hop through compose. Rows move by ~100 ns between runs on this shared machine; the whole-stack rows are the figures to read.",
  ],
)
