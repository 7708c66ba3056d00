// The client stack against raw undici on loopback: requests/s, latency and client CPU per request,
// at concurrency 1, 16 and 64, interleaved repeats. Run: npm run build && node bench/client.mjs
import { execFileSync } from 'node:child_process'
import { createMesh } from '@weft/client'
import { Agent, request, fetch as undiciFetch } from 'undici'
import { load, median, report, startUpstream } from './lib.mjs'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,64').split(',').map(Number)

const upstream = await startUpstream()
const direct = `http://127.0.0.1:${upstream.port}/`
const agent = new Agent({ connections: 64 })
const mesh = await createMesh({
  service: 'bench',
  policy: {
    apiVersion: 'weft.dev/v1',
    services: { upstream: { endpoints: [{ address: `127.0.0.1:${upstream.port}` }] } },
  },
})
// the default stack with a service timeout: every call carries a deadline (x-weft-timeout upstream)
const timed = await createMesh({
  service: 'bench',
  policy: {
    apiVersion: 'weft.dev/v1',
    services: { upstream: { endpoints: [{ address: `127.0.0.1:${upstream.port}` }], timeout: '2s' } },
  },
})
// the pass-through stack: context and round robin only (no retries, breaker or outlier detection)
const passThrough = await createMesh({
  service: 'bench',
  policy: {
    apiVersion: 'weft.dev/v1',
    services: {
      upstream: {
        endpoints: [{ address: `127.0.0.1:${upstream.port}` }],
        loadBalancer: 'round-robin',
        retries: { attempts: 1 },
        circuitBreaker: false,
        outlierDetection: false,
      },
    },
  },
})
const drain = async (res) => {
  for await (const _ of res.body);
}

const variants = {
  'undici.request (baseline)': () => request(direct, { dispatcher: agent }).then((r) => r.body.dump()),
  'mesh.dispatcher + undici.request (default stack)': () =>
    request('http://upstream/', { dispatcher: mesh.dispatcher }).then((r) => r.body.dump()),
  'mesh.dispatcher + undici.request (default stack, timeout 2s)': () =>
    request('http://upstream/', { dispatcher: timed.dispatcher }).then((r) => r.body.dump()),
  'pass-through stack + undici.request': () =>
    request('http://upstream/', { dispatcher: passThrough.dispatcher }).then((r) => r.body.dump()),
  'undici fetch': () => undiciFetch(direct, { dispatcher: agent }).then(drain),
  'mesh.fetch': () => mesh.fetch('http://upstream/').then(drain),
  'global fetch': () => fetch(direct).then(drain),
  'installed global fetch': () => fetch('http://upstream/').then(drain),
}

// warm up every path (JIT, pools)
let undo = mesh.install()
for (const call of Object.values(variants)) for (let i = 0; i < 300; i++) await call()
undo()

const results = {}
for (let round = 0; round < ROUNDS; round++) {
  for (const c of CONCURRENCY) {
    for (const [name, call] of Object.entries(variants)) {
      // global fetch means Node's own fetch with no mesh; installed means through mesh.install()
      if (name === 'installed global fetch') undo = mesh.install()
      const r = await load(call, { concurrency: c, seconds: SECONDS })
      if (name === 'installed global fetch') undo()
      ;((results[c] ??= {})[name] ??= []).push(r)
    }
  }
}

const rows = []
for (const c of CONCURRENCY) {
  const base = results[c]['undici.request (baseline)']
  const baseRps = median(base.map((r) => r.rps))
  const baseCpu = median(base.map((r) => r.cpuUs))
  const fetchBase = results[c]['undici fetch']
  for (const [name, runs] of Object.entries(results[c])) {
    const rps = median(runs.map((r) => r.rps))
    const cpu = median(runs.map((r) => r.cpuUs))
    const vsFetch = name === 'mesh.fetch' ? ` (${(cpu / median(fetchBase.map((r) => r.cpuUs))).toFixed(2)}× undici fetch CPU)` : ''
    rows.push([
      c,
      name,
      rps.toFixed(0),
      median(runs.map((r) => r.p50)).toFixed(3),
      median(runs.map((r) => r.p99)).toFixed(3),
      (rps / baseRps).toFixed(3),
      cpu.toFixed(1),
      `${(cpu - baseCpu >= 0 ? '+' : '') + (cpu - baseCpu).toFixed(1)}${vsFetch}`,
    ])
  }
}

// RSS: a process with @weft/client loaded against one with undici alone, each after one request
const rssOf = (code) => Number(execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }).trim())
const undiciRss = median(
  [0, 1, 2].map(() =>
    rssOf(`import { request } from 'undici'; await request('${direct}').then(r => r.body.dump()); console.log(process.memoryUsage().rss)`),
  ),
)
const weftRss = median(
  [0, 1, 2].map(() =>
    rssOf(
      `import { request } from 'undici'; import { createMesh } from '@weft/client'; const m = await createMesh({ service: 'x', policy: { apiVersion: 'weft.dev/v1', services: { u: { endpoints: [{ address: '127.0.0.1:${upstream.port}' }] } } } }); await request('http://u/', { dispatcher: m.dispatcher }).then(r => r.body.dump()); console.log(process.memoryUsage().rss)`,
    ),
  ),
)

report(
  'client',
  'weft client stack vs raw undici (loopback)',
  ['concurrency', 'variant', 'req/s', 'p50 ms', 'p99 ms', 'vs baseline', 'client CPU µs/req', 'CPU vs baseline µs'],
  rows,
  [
    `${ROUNDS} interleaved rounds of ${SECONDS}s per cell; medians. Upstream: node:http in a child process.`,
    `RSS after one request: undici alone ${(undiciRss / 1e6).toFixed(1)} MB, with @weft/client ${(weftRss / 1e6).toFixed(1)} MB (+${((weftRss - undiciRss) / 1e6).toFixed(1)} MB).`,
  ],
)

await mesh.close()
await timed.close()
await passThrough.close()
await agent.close()
upstream.close()
