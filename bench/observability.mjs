// Trace + metrics cost per call. Part 1: CPU per call of the layers alone around an inner handler
// that answers at once (no network), with no OpenTelemetry SDK — the hot-path budget is 1 µs for
// trace + metrics together. Part 2: requests/s over loopback HTTP through trace → metrics →
// attempts → an undici Pool, with no SDK and with the SDK and an in-memory exporter (target ≥ 85 %).
//
// Run: npx turbo run build --filter=@weft/trace... --filter=@weft/metrics... && node bench/observability.mjs
import { trace as otel } from '@opentelemetry/api'
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base'
import { compose, runWithCall } from '@weft/core'
import { testCall } from '@weft/core/testing'
import { createMeshMetrics, metrics, observeAttempts } from '@weft/metrics'
import { inboundTrace, trace, traceAttempts } from '@weft/trace'
import { Pool } from 'undici'
import { load, median, report, startUpstream } from './lib.mjs'

const quick = process.argv.includes('--quick')
const reply = { status: 200, headers: {}, body: undefined }
const answer = () => Promise.resolve(reply)

function outbound(headers) {
  return testCall({ path: '/charge', headers, route: 'charge', startedAt: performance.now() })
}

/** ns of CPU per call of `handler`, median of 5 runs of n calls, 64 in flight at a time. */
async function perCall(handler, makeCall, n = quick ? 100_000 : 400_000) {
  const runs = []
  for (let r = 0; r < 6; r++) {
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < n; i += 64) {
      const batch = []
      for (let j = 0; j < 64; j++) batch.push(handler(makeCall()))
      await Promise.all(batch)
    }
    const cpu = process.cpuUsage(cpu0)
    if (r > 0) runs.push(((cpu.user + cpu.system) * 1000) / n)
  }
  return median(runs)
}

const meter = createMeshMetrics()
const h = () => Object.assign(Object.create(null), { host: 'payments' })
const inboundParent = {
  ...outbound(h()),
  direction: 'inbound',
  trace: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', flags: 1 },
}

const cases = [
  ['inner handler alone (baseline)', compose()(answer)],
  ['trace (client)', compose(trace())(answer)],
  ['metrics (client)', compose(metrics({ meter, service: 'payments' }))(answer)],
  ['attempts', compose(observeAttempts({ meter, service: 'payments', observers: [traceAttempts] }))(answer)],
  [
    'trace + metrics + attempts (client)',
    compose(
      trace(),
      metrics({ meter, service: 'payments' }),
      observeAttempts({ meter, service: 'payments', observers: [traceAttempts] }),
    )(answer),
  ],
  ['inbound trace + metrics (server)', compose(inboundTrace(), metrics({ meter, service: 'orders', direction: 'inbound' }))(answer)],
]
const rows = []
let base = 0
for (const [name, handler] of cases) {
  const ns = await perCall(handler, () => outbound(h()))
  if (base === 0) base = ns
  rows.push([name, ns.toFixed(0), base === ns ? '-' : (ns - base).toFixed(0)])
}
// an outbound call made while serving an inbound one: the trace comes from the call context
// (promises made inside an AsyncLocalStorage context cost more, so the baseline is measured there too)
{
  const inner = await runWithCall(inboundParent, () => perCall(compose()(answer), () => outbound(h())))
  rows.push(['inner handler alone, inside an inbound call', inner.toFixed(0), '-'])
  const handler = compose(
    trace(),
    metrics({ meter, service: 'payments' }),
    observeAttempts({ meter, service: 'payments', observers: [traceAttempts] }),
  )(answer)
  const ns = await runWithCall(inboundParent, () => perCall(handler, () => outbound(h())))
  rows.push(['trace + metrics + attempts, inside an inbound call (inherits its trace)', ns.toFixed(0), (ns - inner).toFixed(0)])
}
// with a tap reader attached, every call also builds a summary
{
  const sub = meter.tap.subscribe({}, { capacity: 16 })
  const handler = compose(trace(), metrics({ meter, service: 'payments' }), observeAttempts({ meter, service: 'payments' }))(answer)
  const ns = await perCall(handler, () => outbound(h()))
  rows.push(['same, with a /tap reader attached', ns.toFixed(0), (ns - base).toFixed(0)])
  sub.close()
}

// Part 2: loopback HTTP
const upstream = await startUpstream()
const pool = new Pool(`http://127.0.0.1:${upstream.port}`, { connections: 16, pipelining: 1 })
const transport = async (call) => {
  const res = await pool.request({ path: call.path, method: call.method, headers: call.headers })
  await res.body.dump()
  return { status: res.statusCode, headers: {}, body: undefined }
}
const seconds = quick ? 1 : 3
const httpRows = []
const stack = compose(
  trace(),
  metrics({ meter, service: 'payments' }),
  observeAttempts({ meter, service: 'payments', observers: [traceAttempts] }),
)(transport)
const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] })
const clear = setInterval(() => exporter.reset(), 200)
// this machine is shared and noisy: alternate the three cases, five rounds, and take medians
const results = { pool: [], noSdk: [], sdk: [] }
await load(() => transport(outbound(h())), { concurrency: 32, seconds: 2 }) // warm the upstream and the pool
for (let round = 0; round < (quick ? 2 : 5); round++) {
  results.pool.push(await load(() => transport(outbound(h())), { concurrency: 32, seconds }))
  results.noSdk.push(await load(() => stack(outbound(h())), { concurrency: 32, seconds }))
  otel.setGlobalTracerProvider(provider) // weft picks a provider registered later up by itself
  results.sdk.push(await load(() => stack(outbound(h())), { concurrency: 32, seconds }))
  otel.disable()
}
clearInterval(clear)
await pool.close()
upstream.close()
const med = (rs, k) => median(rs.map((r) => r[k]))
for (const [name, rs] of [
  ['undici Pool alone', results.pool],
  ['trace + metrics + attempts, no SDK', results.noSdk],
  ['trace + metrics + attempts, SDK + in-memory exporter', results.sdk],
])
  httpRows.push([name, med(rs, 'rps').toFixed(0), med(rs, 'cpuUs').toFixed(1), med(rs, 'p50').toFixed(2), med(rs, 'p99').toFixed(2)])
const noSdk = { rps: med(results.noSdk, 'rps'), cpu: med(results.noSdk, 'cpuUs') }
const withSdk = { rps: med(results.sdk, 'rps'), cpu: med(results.sdk, 'cpuUs') }
const raw = { rps: med(results.pool, 'rps'), cpu: med(results.pool, 'cpuUs') }

report('observability', 'Observability: trace + metrics per call', ['case', 'CPU ns/call', 'added ns'], rows, [
  'Part 1: layers around an inner handler that answers at once; CPU per call, median of 5 runs, 64 calls in flight.',
  'Part 2: the SDK is a BasicTracerProvider with a BatchSpanProcessor (defaults) into an InMemorySpanExporter (cleared every 200 ms); medians of alternating rounds.',
  '',
  '| loopback HTTP (32 in flight) | req/s | client CPU µs/req | p50 ms | p99 ms |',
  '| --- | --- | --- | --- | --- |',
  ...httpRows.map((r) => `| ${r.join(' | ')} |`),
  '',
  `No-SDK stack: ${((noSdk.rps / raw.rps) * 100).toFixed(1)} % of the bare pool's req/s, +${(noSdk.cpu - raw.cpu).toFixed(1)} µs CPU per request.`,
  `With the SDK: ${((withSdk.rps / noSdk.rps) * 100).toFixed(1)} % of the no-SDK req/s; by CPU per request (steadier here) ${((noSdk.cpu / withSdk.cpu) * 100).toFixed(1)} % (target ≥ 85 %).`,
])
