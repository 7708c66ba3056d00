// The client stack against raw undici on loopback: requests/s, latency and client CPU per request,
// at concurrency 1, 16 and 64. Run: npm run build && node bench/client.mjs
//
// Each variant runs in a process of its own, as a service's stack does, warmed up until V8 has
// optimised it; rounds interleave the processes. In one process, where undici's call sites saw every
// variant's dispatcher and handler and the young generation grown by the variants before collected
// in 20–28 ms pauses that promoted 11–17 MB each, the mesh rows read two to four times what they
// read in processes of their own (bench/results/client.md, 2026-12-08).
import { execFileSync } from 'node:child_process'
import { createMesh } from '@weft/client'
import { Agent, request, fetch as undiciFetch } from 'undici'
import { closedLoop, forkChild, load, median, report, startUpstream } from './lib.mjs'
import { meshPolicy } from './variants.mjs'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const WARM = Number(process.env.BENCH_WARM ?? 20_000)
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,64').split(',').map(Number)

/** Each variant, with the service policy (a key of variants.mjs' SERVICES) of the mesh it calls through, if any. */
const VARIANTS = {
  'undici.request (baseline)': undefined,
  'mesh.dispatcher + undici.request (default stack)': 'default',
  // every call carries a deadline (x-weft-timeout upstream)
  'mesh.dispatcher + undici.request (default stack, timeout 2s)': 'timeout',
  // context and round robin only (no retries, breaker or outlier detection)
  'pass-through stack + undici.request': 'pass-through',
  'undici fetch': undefined,
  'mesh.fetch': 'default',
  // Node's own fetch with no mesh, and through mesh.install()
  'global fetch': undefined,
  'installed global fetch': 'default',
}
const NAMES = Object.keys(VARIANTS)

if (process.argv[2] === 'child') {
  const name = NAMES[Number(process.argv[3])]
  const address = `127.0.0.1:${process.argv[4]}`
  const direct = `http://${address}/`
  const agent = new Agent({ connections: 64 })
  const service = VARIANTS[name]
  const mesh =
    service === undefined ? undefined : await createMesh({ service: 'bench', policy: meshPolicy(service, address, { connections: 64 }) })
  const drain = async (res) => {
    for await (const _ of res.body);
  }
  const viaDispatcher = () => request('http://upstream/', { dispatcher: mesh.dispatcher }).then((r) => r.body.dump())
  const call = {
    'undici.request (baseline)': () => request(direct, { dispatcher: agent }).then((r) => r.body.dump()),
    'mesh.dispatcher + undici.request (default stack)': viaDispatcher,
    'mesh.dispatcher + undici.request (default stack, timeout 2s)': viaDispatcher,
    'pass-through stack + undici.request': viaDispatcher,
    'undici fetch': () => undiciFetch(direct, { dispatcher: agent }).then(drain),
    'mesh.fetch': () => mesh.fetch('http://upstream/').then(drain),
    'global fetch': () => fetch(direct).then(drain),
    'installed global fetch': () => fetch('http://upstream/').then(drain),
  }[name]
  if (name === 'installed global fetch') mesh.install()
  // V8 moves undici's and weft's code to its optimising compiler only after 9 000–20 000 requests
  await closedLoop(call, WARM, 64)
  const results = {}
  for (const c of CONCURRENCY) results[c] = await load(call, { concurrency: c, seconds: SECONDS })
  process.send(results)
  await mesh?.close()
  await agent.close()
  process.exit(0)
}

const upstream = await startUpstream()
const direct = `http://127.0.0.1:${upstream.port}/`
const measure = async (i) => (await forkChild(import.meta.url, ['child', String(i), String(upstream.port)]))[1]

const results = {}
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < NAMES.length; i++) {
    const r = await measure(i)
    for (const c of CONCURRENCY) ((results[c] ??= {})[NAMES[i]] ??= []).push(r[c])
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
    const cpus = runs.map((r) => r.cpuUs)
    const cpu = median(cpus)
    const vsFetch = name === 'mesh.fetch' ? ` (${(cpu / median(fetchBase.map((r) => r.cpuUs))).toFixed(2)}× undici fetch CPU)` : ''
    rows.push([
      c,
      name,
      rps.toFixed(0),
      median(runs.map((r) => r.p50)).toFixed(3),
      median(runs.map((r) => r.p99)).toFixed(3),
      (rps / baseRps).toFixed(3),
      `${cpu.toFixed(1)} (${Math.min(...cpus).toFixed(0)}–${Math.max(...cpus).toFixed(0)})`,
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
upstream.close()

report(
  'client',
  'weft client stack vs raw undici (loopback)',
  ['concurrency', 'variant', 'req/s', 'p50 ms', 'p99 ms', 'vs baseline', 'client CPU µs/req (range)', 'CPU vs baseline µs'],
  rows,
  [
    `One process per variant, warmed up with ${WARM} requests; ${ROUNDS} rounds interleaving the processes, ${SECONDS}s per cell; medians, with the range of the rounds. The baseline's Agent and the mesh's pools are both capped at 64 connections (connectionPool.maxConnections); global fetch is Node's own, uncapped. Upstream: node:http in a child process.`,
    `RSS after one request: undici alone ${(undiciRss / 1e6).toFixed(1)} MB, with @weft/client ${(weftRss / 1e6).toFixed(1)} MB (+${((weftRss - undiciRss) / 1e6).toFixed(1)} MB).`,
  ],
)
