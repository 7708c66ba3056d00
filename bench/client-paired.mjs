// Client CPU a request that weft adds over raw undici, in paired windows: each variant in a process
// of its own, warmed up, and the processes take turns — raw, then each variant, window after window —
// so that the shared machine's drift, which moves raw undici alone by ±30 % between runs, falls
// alike on both sides of each pair. Prints the median difference and its interquartile range.
//   npm run build && node bench/client-paired.mjs     (BENCH_VARIANTS=raw-headers,pass-through,pass-through-uncapped,default)
import { closedLoop, forkChild, median, report, startUpstream } from './lib.mjs'
import { variantCall } from './variants.mjs'

const WARM = Number(process.env.BENCH_WARM ?? 25_000)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 2000)
const PAIRS = Number(process.env.BENCH_PAIRS ?? 40)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64)
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'raw-headers,pass-through,pass-through-uncapped,default').split(',')

if (process.argv[2] === 'child') {
  const { call } = await variantCall(process.argv[3], `127.0.0.1:${process.argv[4]}`, { connections: CONCURRENCY })
  await closedLoop(call, WARM, CONCURRENCY)
  process.on('message', async () => {
    const before = process.cpuUsage()
    await closedLoop(call, WINDOW, CONCURRENCY)
    const cpu = process.cpuUsage(before)
    process.send((cpu.user + cpu.system) / WINDOW)
  })
  process.send('ready')
} else {
  const upstream = await startUpstream()
  const start = async (variant) => (await forkChild(import.meta.url, ['child', variant, String(upstream.port)]))[0]
  const windowOf = (child) =>
    new Promise((resolve) => {
      child.once('message', resolve)
      child.send('go')
    })
  const raw = await start('raw')
  const children = Object.fromEntries(await Promise.all(VARIANTS.map(async (v) => [v, await start(v)])))
  const rawCpu = []
  const over = Object.fromEntries(VARIANTS.map((v) => [v, []]))
  for (let i = 0; i < PAIRS; i++) {
    // raw before every variant's window: each difference pairs two windows a few hundred ms apart
    for (const v of VARIANTS) {
      const base = await windowOf(raw)
      rawCpu.push(base)
      over[v].push((await windowOf(children[v])) - base)
    }
  }
  for (const child of [raw, ...Object.values(children)]) child.kill()
  upstream.close()

  const quantile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]
  const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`
  const rows = VARIANTS.map((v) => [v, signed(median(over[v])), `${signed(quantile(over[v], 0.25))} to ${signed(quantile(over[v], 0.75))}`])
  report(
    'client-paired',
    'client CPU a request over raw undici, paired windows (loopback)',
    ['variant', 'µs over raw (median)', 'interquartile range'],
    rows,
    [
      `Concurrency ${CONCURRENCY}; each variant and raw undici in a process of its own, warmed up with ${WARM} requests; ${PAIRS} rounds in which raw and each variant take turns, ${WINDOW} requests a window; the difference of each variant's window from the raw window just before it. Raw undici alone read ${median(rawCpu).toFixed(1)} µs a request (median; interquartile range ${quantile(rawCpu, 0.25).toFixed(1)} to ${quantile(rawCpu, 0.75).toFixed(1)}). Upstream: node:http in a child process.`,
    ],
  )
}
