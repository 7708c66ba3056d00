// Instructions per keep-alive mTLS request under valgrind's callgrind, for comparisons the shared
// 2-core machine's wall-clock CPU is too noisy for (±10 % between runs; this is ±2 % when run alone).
// The measured side runs under callgrind with instrumentation switched on only for the measured
// requests; the other side runs at full speed. Needs valgrind. Run alone:
//   node bench/mtls-instructions.mjs            (server: STRICT, PERMISSIVE, RAW; client: weft, undici)
import { execFileSync, fork } from 'node:child_process'
import { createConnector, createIdentitySource, createTrustAnchor, issueCertificate } from '@weft/mtls'
import { Pool, request } from 'undici'
import { benchServer } from './mtls-server.mjs'

const WARM = Number(process.env.BENCH_WARM ?? 6000)
const N = Number(process.env.BENCH_REQUESTS ?? 2000)
const SIDES = (process.env.BENCH_SIDES ?? 'server,client').split(',')
const EXPECTED = 'spiffe://bench.local/ns/default/sa/upstream'
const pick = ({ cert, key, bundle }) => ({ cert, key, bundle })
const role = process.argv[2]

if (role === 'server') {
  // a weft mesh server in a mode, or RAW: node's https.Server with node's defaults
  const mode = process.argv[3]
  const identity = await createIdentitySource(JSON.parse(process.env.WEFT_BENCH_UP))
  const server = benchServer(mode, identity)
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  process.on('message', (m) => m === 'exit' && process.exit(0))
} else if (role === 'client') {
  const [, , , kind, port] = process.argv
  const pool = await poolFor(kind, Number(port), JSON.parse(process.env.WEFT_BENCH_ME))
  process.on('message', async (m) => {
    if (m === 'exit') process.exit(0)
    await burst(pool, Number(port), m)
    process.send('done')
  })
  process.send({ ready: true })
} else {
  const anchor = await createTrustAnchor({ trustDomain: 'bench.local' })
  const up = pick(await issueCertificate({ anchor, spiffeId: EXPECTED }))
  const me = pick(await issueCertificate({ anchor, spiffeId: 'spiffe://bench.local/ns/default/sa/bench' }))
  const env = { ...process.env, WEFT_BENCH_UP: JSON.stringify(up), WEFT_BENCH_ME: JSON.stringify(me) }
  for (const mode of SIDES.includes('server') ? ['STRICT', 'PERMISSIVE', 'RAW'] : []) {
    const ir = await measured(['server', mode], env, async (child) => {
      const { port } = await next(child)
      const pool = await poolFor('undici', port, me)
      return { warm: () => burst(pool, port, WARM), run: () => burst(pool, port, N), done: () => pool.close() }
    })
    console.log(`server ${mode.padEnd(10)} ${(ir / N).toFixed(0)} instructions a request`)
  }
  const raw = benchServer('RAW', await createIdentitySource(up))
  await new Promise((resolve) => raw.listen(0, '127.0.0.1', resolve))
  for (const kind of SIDES.includes('client') ? ['weft', 'undici', 'weft', 'undici'] : []) {
    const ir = await measured(['client', kind, String(raw.address().port)], env, async (child) => {
      await next(child)
      const ask = (m) => {
        child.send(m)
        return next(child)
      }
      return { warm: () => ask(WARM), run: () => ask(N), done: () => {} }
    })
    console.log(`client ${kind.padEnd(10)} ${(ir / N).toFixed(0)} instructions a request`)
  }
  raw.close()
  process.exit(0)
}

async function poolFor(kind, port, me) {
  // handshakes under valgrind are slow: generous connect timeouts
  const connect =
    kind === 'weft'
      ? createConnector(await createIdentitySource(me), EXPECTED, { connectTimeout: 120_000 })
      : { cert: me.cert, key: me.key, ca: me.bundle, checkServerIdentity: () => undefined }
  return new Pool(`https://127.0.0.1:${port}`, { connections: 64, connectTimeout: 120_000, connect })
}

async function burst(pool, port, n) {
  let left = n
  const one = () => request(`https://127.0.0.1:${port}/`, { dispatcher: pool }).then((r) => r.body.dump())
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (left-- > 0) await one()
    }),
  )
}

/** Forks `args` under callgrind, warms up, counts the instructions of `run` only. */
async function measured(args, env, drive) {
  const out = `/tmp/weft-callgrind-${process.pid}-${args.join('-')}.out`
  const child = fork(new URL(import.meta.url), args, {
    env,
    stdio: 'inherit',
    execPath: 'valgrind',
    execArgv: ['-q', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, process.execPath],
  })
  const side = await drive(child)
  await side.warm()
  execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' })
  await side.run()
  execFileSync('callgrind_control', ['-i', 'off', String(child.pid)], { stdio: 'ignore' })
  await side.done()
  child.send('exit')
  await new Promise((resolve) => child.once('exit', resolve))
  const total = execFileSync('callgrind_annotate', [out])
    .toString()
    .match(/([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS/)?.[1]
  return Number(total?.replace(/,/g, ''))
}

function next(child) {
  return new Promise((resolve) => child.once('message', resolve))
}
