// mTLS against plaintext on loopback: keep-alive requests/s at concurrency 64 through the same weft
// server (createMeshServer) and undici, the handshake cost of a new connection (p50) and the RSS the
// TLS connections add. Run: npx turbo run build --filter=@weft/mtls... && node bench/mtls.mjs
import { execFileSync, fork } from 'node:child_process'
import { connect as netConnect } from 'node:net'
import { createConnector, createIdentitySource, createTrustAnchor, describeCertificate, issueCertificate } from '@weft/mtls'
import { Pool, request } from 'undici'
import { load, median, report } from './lib.mjs'
import { benchServer } from './mtls-server.mjs'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64)
const HANDSHAKES = Number(process.env.BENCH_HANDSHAKES ?? 300)

// --- child: a weft mesh server in a mode, in its own process so its CPU is not the client's
if (process.argv[2] === 'server') {
  const mode = process.argv[3]
  const identity = await createIdentitySource(JSON.parse(process.env.WEFT_BENCH_IDENTITY))
  const server = benchServer(mode, identity)
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  process.on('message', (m) => {
    if (m === 'rss') process.send({ rss: process.memoryUsage().rss })
    if (m === 'cpu') process.send({ cpu: process.cpuUsage() })
  })
  process.on('disconnect', () => process.exit(0))
} else if (process.argv[2] === 'client-rss') {
  // --- child: a client holding 64 keep-alive connections, for the RSS they cost
  const [, , , scheme, port] = process.argv
  const before = process.memoryUsage().rss
  const pems = JSON.parse(process.env.WEFT_BENCH_IDENTITY)
  const options = { connections: CONCURRENCY }
  if (scheme === 'https') options.connect = createConnector(await createIdentitySource(pems), 'spiffe://bench.local/ns/default/sa/upstream')
  const pool = new Pool(`${scheme}://127.0.0.1:${port}`, options)
  for (let round = 0; round < 10; round++)
    await Promise.all(
      Array.from({ length: CONCURRENCY }, () => request(`${scheme}://127.0.0.1:${port}/`, { dispatcher: pool }).then((r) => r.body.dump())),
    )
  globalThis.gc?.()
  console.log(JSON.stringify({ before, after: process.memoryUsage().rss }))
  await pool.destroy()
} else {
  await main()
}

function startServer(mode, identity) {
  const child = fork(new URL(import.meta.url), ['server', mode], {
    env: { ...process.env, WEFT_BENCH_IDENTITY: JSON.stringify(identity) },
    stdio: 'inherit',
  })
  const ask = (what) =>
    new Promise((resolve) => {
      child.once('message', resolve)
      child.send(what)
    })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server ${mode} exited with ${code}`)))
    child.once('message', ({ port }) =>
      resolve({
        port,
        rss: () => ask('rss').then((m) => m.rss),
        cpuUs: () => ask('cpu').then((m) => m.cpu.user + m.cpu.system),
        close: () => child.kill(),
      }),
    )
  })
}

async function main() {
  const loadAtStart = (await import('node:os')).loadavg()[0].toFixed(2)
  const anchor = await createTrustAnchor({ trustDomain: 'bench.local' })
  const upstreamId = await issueCertificate({ anchor, spiffeId: 'spiffe://bench.local/ns/default/sa/upstream' })
  const clientId = await issueCertificate({ anchor, spiffeId: 'spiffe://bench.local/ns/default/sa/bench' })
  const pick = ({ cert, key, bundle }) => ({ cert, key, bundle })

  const permissive = await startServer('PERMISSIVE', pick(upstreamId))
  const strict = await startServer('STRICT', pick(upstreamId))
  const disable = await startServer('DISABLE', pick(upstreamId))
  const raw = await startServer('RAW', pick(upstreamId))
  // undici's own TLS connector, no SPIFFE check: what mTLS costs in Node without weft
  const rawConnect = { cert: clientId.cert, key: clientId.key, ca: clientId.bundle, checkServerIdentity: () => undefined }
  const source = await createIdentitySource(pick(clientId))
  const connect = createConnector(source, 'spiffe://bench.local/ns/default/sa/upstream')

  const pools = {
    'plaintext, DISABLE port': new Pool(`http://127.0.0.1:${disable.port}`, { connections: CONCURRENCY }),
    'plaintext, PERMISSIVE port (sniffed)': new Pool(`http://127.0.0.1:${permissive.port}`, { connections: CONCURRENCY }),
    'mTLS, STRICT port': new Pool(`https://127.0.0.1:${strict.port}`, { connections: CONCURRENCY, connect }),
    'mTLS, PERMISSIVE port (sniffed)': new Pool(`https://127.0.0.1:${permissive.port}`, { connections: CONCURRENCY, connect }),
    'mTLS without weft (https.Server + undici connector)': new Pool(`https://127.0.0.1:${raw.port}`, {
      connections: CONCURRENCY,
      connect: rawConnect,
    }),
  }
  const origins = {
    'plaintext, DISABLE port': `http://127.0.0.1:${disable.port}/`,
    'plaintext, PERMISSIVE port (sniffed)': `http://127.0.0.1:${permissive.port}/`,
    'mTLS, STRICT port': `https://127.0.0.1:${strict.port}/`,
    'mTLS, PERMISSIVE port (sniffed)': `https://127.0.0.1:${permissive.port}/`,
    'mTLS without weft (https.Server + undici connector)': `https://127.0.0.1:${raw.port}/`,
  }
  const servers = {
    'plaintext, DISABLE port': disable,
    'plaintext, PERMISSIVE port (sniffed)': permissive,
    'mTLS, STRICT port': strict,
    'mTLS, PERMISSIVE port (sniffed)': permissive,
    'mTLS without weft (https.Server + undici connector)': raw,
  }
  const calls = Object.fromEntries(
    Object.entries(pools).map(([name, pool]) => [name, () => request(origins[name], { dispatcher: pool }).then((r) => r.body.dump())]),
  )

  // warm up: JIT, and every pool opens its connections
  for (const call of Object.values(calls)) await load(call, { concurrency: CONCURRENCY, seconds: 0.5 })

  const results = {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, call] of Object.entries(calls)) {
      const cpu0 = await servers[name].cpuUs()
      const r = await load(call, { concurrency: CONCURRENCY, seconds: SECONDS })
      r.serverCpuUs = ((await servers[name].cpuUs()) - cpu0) / r.count
      ;(results[name] ??= []).push(r)
    }
  }
  const base = median(results['plaintext, DISABLE port'].map((r) => r.rps))
  const totalCpu = (runs) => median(runs.map((r) => r.cpuUs + r.serverCpuUs))
  const baseCpu = totalCpu(results['plaintext, DISABLE port'])
  const rows = Object.entries(results).map(([name, runs]) => {
    const rps = median(runs.map((r) => r.rps))
    return [
      name,
      rps.toFixed(0),
      (rps / base).toFixed(3),
      median(runs.map((r) => r.p50)).toFixed(3),
      median(runs.map((r) => r.p99)).toFixed(3),
      median(runs.map((r) => r.cpuUs)).toFixed(1),
      median(runs.map((r) => r.serverCpuUs)).toFixed(1),
      (baseCpu / totalCpu(runs)).toFixed(3),
    ]
  })

  // handshake: a new connection each time, connect → secureConnect (chain + SVID + SPIFFE ID checks)
  // full: a fresh connector each time (nothing to resume); resumed: one connector, whose verified session is resumed
  const tls = []
  const resumedTls = []
  let resumedCount = 0
  const tcp = []
  const handshake = (via, into) => {
    const t = performance.now()
    return new Promise((resolve, reject) =>
      via({ hostname: '127.0.0.1', port: strict.port, protocol: 'https:' }, (err, socket) => {
        if (err) return reject(err)
        into.push(performance.now() - t)
        if (socket.isSessionReused()) resumedCount++
        // the next connection can resume once this one's session tickets arrived
        const done = () => {
          socket.destroy()
          resolve()
        }
        if (socket.isSessionReused()) done()
        else socket.once('session', done)
      }),
    )
  }
  await handshake(connect, resumedTls)
  resumedTls.length = 0
  resumedCount = 0
  for (let i = 0; i < HANDSHAKES; i++) {
    await handshake(createConnector(source, 'spiffe://bench.local/ns/default/sa/upstream'), tls)
    await handshake(connect, resumedTls)
    const t = performance.now()
    await new Promise((resolve) => {
      const s = netConnect(disable.port, '127.0.0.1', () => {
        tcp.push(performance.now() - t)
        s.destroy()
        resolve()
      })
    })
  }
  tls.sort((a, b) => a - b)
  resumedTls.sort((a, b) => a - b)
  tcp.sort((a, b) => a - b)
  const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]
  // the first sight of a peer certificate parses it (then it is cached by fingerprint)
  const freshCert = (await issueCertificate({ anchor, spiffeId: 'spiffe://bench.local/ns/default/sa/x' })).cert
  const parse = []
  for (let i = 0; i < 200; i++) {
    const t = performance.now()
    describeCertificate(freshCert)
    parse.push(performance.now() - t)
  }

  // RSS with 64 keep-alive connections open, after load: server side and client side
  const serverRss = { plaintext: await disable.rss(), mtls: await strict.rss() }
  const clientRss = (scheme, port) =>
    JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', new URL(import.meta.url).pathname, 'client-rss', scheme, String(port)], {
        env: { ...process.env, WEFT_BENCH_IDENTITY: JSON.stringify(pick(clientId)) },
        encoding: 'utf8',
      }),
    )
  const cPlain = median([0, 1, 2].map(() => clientRss('http', disable.port)).map((r) => r.after - r.before))
  const cTls = median([0, 1, 2].map(() => clientRss('https', strict.port)).map((r) => r.after - r.before))
  const mb = (n) => (n / 1e6).toFixed(1)

  report(
    'mtls',
    'mTLS vs plaintext, keep-alive, through createMeshServer and undici (loopback)',
    ['variant', 'req/s', 'req/s vs plaintext', 'p50 ms', 'p99 ms', 'client CPU µs/req', 'server CPU µs/req', 'capacity vs plaintext (CPU)'],
    rows,
    [
      `Concurrency ${CONCURRENCY}, ${CONCURRENCY} keep-alive connections; ${ROUNDS} interleaved rounds of ${SECONDS}s per variant, medians. Server: createMeshServer in a child process; ECDSA P-256 certificates, TLS 1.3 (weft: AES-128-GCM; without weft: node's default AES-256-GCM). "Capacity" is plaintext's client+server CPU per request over this variant's: the throughput ratio when both are CPU-bound, and steadier than req/s when other processes share the cores (load average at start: ${loadAtStart}).`,
      `Handshake (new connection, connect → secure, chain + X.509-SVID + SPIFFE ID check; ${HANDSHAKES} sequential): p50 ${pct(tls, 50).toFixed(3)} ms, p99 ${pct(tls, 99).toFixed(3)} ms; one connector again (${resumedCount} of ${HANDSHAKES} resumed its verified TLS 1.3 session): p50 ${pct(resumedTls, 50).toFixed(3)} ms, p99 ${pct(resumedTls, 99).toFixed(3)} ms; plain TCP connect p50 ${pct(tcp, 50).toFixed(3)} ms.`,
      `First sight of a peer certificate (X.509 parse + SVID rules, then cached by fingerprint): p50 ${pct(
        parse.sort((a, b) => a - b),
        50,
      ).toFixed(3)} ms.`,
      `RSS with ${CONCURRENCY} keep-alive connections after load — server: plaintext ${mb(serverRss.plaintext)} MB, mTLS ${mb(serverRss.mtls)} MB (+${mb(serverRss.mtls - serverRss.plaintext)} MB); client growth from start: plaintext +${mb(cPlain)} MB, mTLS +${mb(cTls)} MB (+${mb(cTls - cPlain)} MB for TLS).`,
    ],
  )

  await Promise.all(Object.values(pools).map((p) => p.close()))
  source.close?.()
  for (const s of [permissive, strict, disable, raw]) s.close()
}
