// Client instructions per request under valgrind's callgrind: raw undici.request against the mesh's
// stacks, for comparisons the shared 2-core machine's wall-clock CPU is too noisy for. The client
// runs under callgrind with instrumentation on only for the measured requests; the upstream
// (node:http, bench/server.mjs) runs at full speed in its own process. Needs valgrind. Run alone:
//   node bench/client-instructions.mjs        (BENCH_VARIANTS=raw,raw-headers,pass-through,default,timeout,fetch,mesh-fetch)
// `raw-headers` is raw undici.request sending the headers a mesh call puts on the wire (host,
// x-weft-attempt, traceparent): what undici itself charges for them, apart from weft's own code.
// `fetch` is undici's fetch alone, `mesh-fetch` is mesh.fetch with the default stack.
// BENCH_CACHE_SIM=1 adds callgrind's cache simulation (about twice as slow): L1 instruction and data
// misses per request, the cost of the code and data a request touches that instruction counts miss.
import { execFileSync, fork } from 'node:child_process'
import { closedLoop, report, startUpstream } from './lib.mjs'
import { SERVICES, variantCall } from './variants.mjs'

// V8 moves weft's layers (and much of undici) to its optimising compiler, TurboFan, only after some
// 9 000–20 000 requests; measured earlier, they run mid-tier (Maglev) code that calls out to inline
// caches: raw undici read 212k instructions a request after 6 000 warm-up requests, 108k after 25 000
const WARM = Number(process.env.BENCH_WARM ?? 25_000)
const N = Number(process.env.BENCH_REQUESTS ?? 9000)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16)
const CACHE_SIM = process.env.BENCH_CACHE_SIM === '1'
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'raw,raw-headers,pass-through,default,timeout,fetch,mesh-fetch').split(',')

const services = { ...SERVICES, timeout: { timeout: process.env.BENCH_TIMEOUT ?? '2s' } }

if (process.argv[2] === 'client') {
  const [, , , variant, port] = process.argv
  const { call } = await variantCall(variant, `127.0.0.1:${port}`, { services })
  process.on('message', async (n) => {
    if (n === 'exit') process.exit(0)
    await closedLoop(call, n, CONCURRENCY)
    process.send('done')
  })
  process.send('ready')
} else {
  const upstream = await startUpstream()
  const rows = []
  const counts = {}
  for (const variant of VARIANTS) {
    const totals = await measured(variant, upstream.port)
    counts[variant] = totals.Ir
    // each variant against what it wraps: mesh.fetch against undici's fetch, the rest against undici.request
    const base = variant === 'mesh-fetch' ? 'fetch' : variant === 'fetch' ? undefined : 'raw'
    const against = base === undefined || base === variant ? undefined : counts[base]
    rows.push([
      variant,
      (counts[variant] / 1000).toFixed(1),
      against === undefined
        ? '—'
        : `${base} ${counts[variant] >= against ? '+' : '−'}${(Math.abs(counts[variant] - against) / 1000).toFixed(1)}k`,
      against === undefined ? '—' : `${(counts[variant] / against).toFixed(3)}×`,
      ...(CACHE_SIM ? [Math.round(totals.I1mr), Math.round(totals.D1mr + totals.D1mw), Math.round(totals.DLmr + totals.DLmw)] : []),
    ])
    console.log(variant, counts[variant])
  }
  upstream.close()
  report(
    'client-instructions',
    'client instructions per request under callgrind (loopback)',
    [
      'variant',
      'k instructions/request',
      'over its baseline',
      'ratio',
      ...(CACHE_SIM ? ['L1 instruction misses/request', 'L1 data misses/request', 'last-level data misses/request'] : []),
    ],
    rows,
    [
      `Concurrency ${CONCURRENCY}; ${WARM} warm-up requests, then ${N} measured. Instructions, not time, but not immune to load: a major collection (about 80 M instructions, every ~60 000 requests whatever the variant) landing inside the measured requests adds ~9k a request to them, and a loaded machine delays the optimising compiler; compare rows of one run. mesh-fetch is compared with undici's fetch, the rest with undici.request.`,
    ],
  )
}

/**
 * Forks the client under callgrind, warms it up, counts the instructions of the measured requests
 * only. (Splitting the measured requests into windows dumped apart does not work: callgrind takes
 * its commands a moment late, so the windows' counts shift between dumps; only their sum holds.)
 */
async function measured(variant, port) {
  const out = `/tmp/weft-callgrind-client-${process.pid}-${variant}.out`
  const child = fork(new URL(import.meta.url), ['client', variant, String(port)], {
    stdio: 'inherit',
    execPath: 'valgrind',
    execArgv: [
      '-q',
      '--tool=callgrind',
      ...(CACHE_SIM ? ['--cache-sim=yes'] : []),
      '--instr-atstart=no',
      `--callgrind-out-file=${out}`,
      process.execPath,
    ],
  })
  const ask = (m) => {
    child.send(m)
    return next(child)
  }
  const control = (...args) => execFileSync('callgrind_control', [...args, String(child.pid)], { stdio: 'ignore' })
  await next(child)
  await ask(WARM)
  control('-i', 'on')
  await ask(N)
  control('-i', 'off')
  child.send('exit')
  await new Promise((resolve) => child.once('exit', resolve))
  const totals = totalsOf(out)
  for (const event of Object.keys(totals)) totals[event] /= N
  return totals
}

/** The PROGRAM TOTALS of a callgrind file by event (`Ir`, and with the cache simulation `I1mr`, `D1mr`, …). */
function totalsOf(file) {
  const lines = execFileSync('callgrind_annotate', [file]).toString().split('\n')
  const at = lines.findIndex((l) => l.includes('PROGRAM TOTALS'))
  const events = lines
    .slice(0, at)
    .reverse()
    .find((l) => /^Ir\b/.test(l.trim()))
    .trim()
    .split(/\s+/)
  const values = [...lines[at].matchAll(/([\d,]+)\s+\(100\.0%\)/g)].map((m) => Number(m[1].replace(/,/g, '')))
  return Object.fromEntries(events.map((e, i) => [e, values[i] ?? 0]))
}

function next(child) {
  return new Promise((resolve) => child.once('message', resolve))
}
