// Bytes the client allocates per request on loopback: raw undici.request against the mesh's
// stacks, each variant in a process of its own (as a service's stack is). Unlike CPU time, which on
// the shared 2-core machine moves by ±30 % between identical runs, this repeats to ±2 %, so it is
// the figure that can tell a change of a few hundred bytes apart. Every byte is paid again in the
// young-generation collections it brings on.
//   npm run build && node bench/client-alloc.mjs          (BENCH_VARIANTS=raw,raw-headers,pass-through,default,timeout)
// BENCH_SITES=1 also lists weft's allocation sites per request (V8's sampling heap profiler;
// functions inlined into a caller count as the caller).
import { Session } from 'node:inspector/promises'
import { closedLoop, forkChild, median, report, startUpstream } from './lib.mjs'
import { SERVICES, variantCall } from './variants.mjs'

const WARM = Number(process.env.BENCH_WARM ?? 30_000)
const N = Number(process.env.BENCH_REQUESTS ?? 5000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64)
const SITES = process.env.BENCH_SITES === '1'
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'raw,raw-headers,pass-through,default,timeout').split(',')

// a deadline on every call; long, so that a loaded machine never lets one fire (the path is the same)
const services = { ...SERVICES, timeout: { timeout: '30s' } }

if (process.argv[2] === 'child') {
  const [, , , variant, port] = process.argv
  const { call, close } = await variantCall(variant, `127.0.0.1:${port}`, { connections: CONCURRENCY, services })
  const run = (n) => closedLoop(call, n, CONCURRENCY)
  await run(WARM)
  // the young generation is made larger than N requests allocate, so no collection runs inside the
  // window and the growth of the heap is what the requests allocated
  const bytes = []
  for (let i = 0; i < 3; i++) {
    globalThis.gc()
    const before = process.memoryUsage().heapUsed
    await run(N)
    bytes.push((process.memoryUsage().heapUsed - before) / N)
  }
  let sites
  if (SITES) {
    const session = new Session()
    session.connect()
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 64,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    })
    await run(N)
    const { profile } = await session.post('HeapProfiler.stopSampling')
    const by = new Map()
    const walk = (node) => {
      const { functionName, url, lineNumber } = node.callFrame
      const pkg = /packages\/([^/]+)\/dist\//.exec(url)?.[1]
      if (pkg !== undefined && node.selfSize > 0) {
        const key = `@weft/${pkg} ${functionName || '(anonymous)'}:${lineNumber + 1}`
        by.set(key, (by.get(key) ?? 0) + node.selfSize)
      }
      for (const child of node.children) walk(child)
    }
    walk(profile.head)
    sites = [...by].map(([site, b]) => [site, b / N]).sort((a, b) => b[1] - a[1])
  }
  process.send({ bytes: median(bytes), sites })
  await close()
  process.exit(0)
} else {
  const upstream = await startUpstream()
  // room for N requests of the largest stack (~20 KB each) with no collection in between
  const semi = Math.max(64, Math.ceil((N * 24_000) / 1e6))
  const execArgv = ['--expose-gc', `--min-semi-space-size=${semi}`, `--max-semi-space-size=${semi}`]
  const measure = async (variant) => (await forkChild(import.meta.url, ['child', variant, String(upstream.port)], execArgv))[1]
  const samples = Object.fromEntries(VARIANTS.map((v) => [v, []]))
  const sites = {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of VARIANTS) {
      const r = await measure(variant)
      samples[variant].push(r.bytes)
      if (r.sites !== undefined) sites[variant] ??= r.sites
    }
  }
  upstream.close()
  const bytes = (v) => median(samples[v])
  const spread = (v) => Math.max(...samples[v]) - Math.min(...samples[v])
  const rows = VARIANTS.map((v) => {
    const base = v === 'raw' ? undefined : v === 'raw-headers' ? 'raw' : VARIANTS.includes('raw-headers') ? 'raw-headers' : 'raw'
    const over = base === undefined || !VARIANTS.includes(base) ? '—' : `${base} +${(bytes(v) - bytes(base)).toFixed(0)}`
    return [v, bytes(v).toFixed(0), `±${(spread(v) / 2).toFixed(0)}`, over]
  })
  const notes = [
    `Concurrency ${CONCURRENCY}; one process per variant and round (${ROUNDS} rounds, interleaved), each warmed up with ${WARM} requests, then three windows of ${N} requests with a young generation too large to collect inside one (semi-space ${semi} MB, \`gc()\` before each); the heap's growth over a window, per request, median of windows, then of rounds. ± is half the range of the rounds.`,
    "The mesh variants are compared with raw-headers: undici.request sending the headers a mesh call puts on the wire (host, x-weft-attempt, a fresh traceparent), so the difference is what weft itself allocates. raw-headers' own excess over raw is partly the bench's (it builds the header object and traceparent string in JavaScript) and partly undici's handling of the three headers.",
  ]
  for (const [variant, list] of Object.entries(sites)) {
    if (list.length === 0) continue // undici alone: no weft code runs
    notes.push(
      '',
      `weft's allocation sites in ${variant}, bytes per request (sampled; a function inlined into its caller counts as the caller):`,
      '',
    )
    for (const [site, b] of list.slice(0, 15)) notes.push(`- ${site}: ${b.toFixed(0)}`)
  }
  report(
    'client-alloc',
    'bytes the client allocates per request (loopback)',
    ['variant', 'bytes/request', 'spread', 'over its baseline'],
    rows,
    notes,
  )
}
