// Client instructions per request under valgrind's callgrind: raw undici.request against the mesh's
// stacks, for comparisons the shared 2-core machine's wall-clock CPU is too noisy for. The client
// runs under callgrind with instrumentation on only for the measured requests; the upstream
// (node:http, bench/server.mjs) runs at full speed in its own process. Needs valgrind. Run alone:
//   node bench/client-instructions.mjs        (BENCH_VARIANTS=raw,pass-through,default,timeout)
import { execFileSync, fork } from 'node:child_process'
import { createMesh } from '@weft/client'
import { Agent, request } from 'undici'
import { report, startUpstream } from './lib.mjs'

const WARM = Number(process.env.BENCH_WARM ?? 6000)
const N = Number(process.env.BENCH_REQUESTS ?? 3000)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16)
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'raw,pass-through,default,timeout').split(',')

/** The service's policy per variant; `raw` is undici alone. */
const SERVICE = {
  'pass-through': { loadBalancer: 'round-robin', retries: { attempts: 1 }, circuitBreaker: false, outlierDetection: false },
  default: {},
  timeout: { timeout: process.env.BENCH_TIMEOUT ?? '2s' },
}

if (process.argv[2] === 'client') {
  const [, , , variant, port] = process.argv
  const address = `127.0.0.1:${port}`
  let call
  if (variant === 'raw') {
    const agent = new Agent({ connections: 64 })
    call = () => request(`http://${address}/`, { dispatcher: agent }).then((r) => r.body.dump())
  } else {
    const policy = { apiVersion: 'weft.dev/v1', services: { upstream: { endpoints: [{ address }], ...SERVICE[variant] } } }
    const mesh = await createMesh({ service: 'bench', policy })
    call = () => request('http://upstream/', { dispatcher: mesh.dispatcher }).then((r) => r.body.dump())
  }
  process.on('message', async (n) => {
    if (n === 'exit') process.exit(0)
    let left = n
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (left-- > 0) await call()
      }),
    )
    process.send('done')
  })
  process.send('ready')
} else {
  const upstream = await startUpstream()
  const rows = []
  const counts = {}
  for (const variant of VARIANTS) {
    counts[variant] = await measured(variant, upstream.port)
    const over = variant === 'raw' || counts.raw === undefined ? '—' : `+${((counts[variant] - counts.raw) / 1000).toFixed(1)}k`
    rows.push([
      variant,
      (counts[variant] / 1000).toFixed(1),
      over,
      counts.raw === undefined ? '—' : `${(counts[variant] / counts.raw).toFixed(3)}×`,
    ])
    console.log(variant, counts[variant])
  }
  upstream.close()
  report(
    'client-instructions',
    'client instructions per request under callgrind (loopback)',
    ['variant', 'k instructions/request', 'over raw undici', 'vs raw'],
    rows,
    [
      `Concurrency ${CONCURRENCY}; ${WARM} warm-up requests, then ${N} measured; one run each. Instructions, not time: the same code gives the same count within about 2 %, whatever else the machine is doing.`,
    ],
  )
}

/** Forks the client under callgrind, warms it up, counts the instructions of the measured requests only. */
async function measured(variant, port) {
  const out = `/tmp/weft-callgrind-client-${process.pid}-${variant}.out`
  const child = fork(new URL(import.meta.url), ['client', variant, String(port)], {
    stdio: 'inherit',
    execPath: 'valgrind',
    execArgv: ['-q', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, process.execPath],
  })
  const ask = (m) => {
    child.send(m)
    return next(child)
  }
  await next(child)
  await ask(WARM)
  execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' })
  await ask(N)
  execFileSync('callgrind_control', ['-i', 'off', String(child.pid)], { stdio: 'ignore' })
  child.send('exit')
  await new Promise((resolve) => child.once('exit', resolve))
  const total = execFileSync('callgrind_annotate', [out])
    .toString()
    .match(/([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS/)?.[1]
  return Number(total?.replace(/,/g, '')) / N
}

function next(child) {
  return new Promise((resolve) => child.once('message', resolve))
}
