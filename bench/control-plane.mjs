// Propagation of one policy change to many long-polling agents, and the control plane's memory while it
// holds them. The control plane runs in a child process (so its RSS is its own); the agents share this one
// (so every agent's validation competes for the same CPU: a pessimistic figure against one process each).
// Run: npx turbo run build --filter=@weft/control-plane... && node bench/control-plane.mjs
// Knobs: BENCH_AGENTS (1000), BENCH_ROUNDS (5).
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { median, report } from './lib.mjs'

const { env } = process

const yaml = (n) => `apiVersion: weft.dev/v1
services:
  payments:
    endpoints: [ { address: 127.0.0.1:${8000 + n} }, { address: 127.0.0.1:${9000 + n} } ]
    routes:
      - match: { path: { prefix: /charge }, methods: [POST] }
        timeout: 5s
        retries: { attempts: 1 }
  orders:
    endpoints: [ { address: 127.0.0.1:7001 } ]
`

if (env.WEFT_BENCH_ROLE === 'control-plane') {
  const { createControlPlane } = await import('@weft/control-plane')
  const cp = await createControlPlane({ dir: env.WEFT_BENCH_DIR, port: 0, logger: { warn: (m) => console.error(m) } })
  process.on('message', (m) => {
    if (m === 'stats') process.send({ rss: process.memoryUsage().rss, watchers: cp.status().watchers, cpu: process.cpuUsage() })
    if (m === 'close') cp.close().then(() => process.exit(0))
  })
  process.send({ url: cp.url })
} else {
  const { createAgent } = await import('@weft/agent')
  const AGENTS = Number(env.BENCH_AGENTS ?? 1000)
  const ROUNDS = Number(env.BENCH_ROUNDS ?? 5)
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-cp-'))
  writeFileSync(join(dir, 'mesh.yaml'), yaml(0))

  const child = fork(new URL(import.meta.url), {
    env: { ...process.env, WEFT_BENCH_ROLE: 'control-plane', WEFT_BENCH_DIR: dir },
    stdio: 'inherit',
  })
  const replies = []
  child.on('message', (m) => replies.shift()?.(m))
  const next = () => new Promise((resolve) => replies.push(resolve))
  const ask = (m) => {
    const p = next()
    child.send(m)
    return p
  }
  const { url } = await next()
  const waitFor = async (test, what, timeoutMs = 30_000) => {
    const until = performance.now() + timeoutMs
    for (;;) {
      const s = await ask('stats')
      if (test(s)) return s
      if (performance.now() > until) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  const idle = await ask('stats')
  let t0 = 0
  let arrivals = []
  const quiet = { warn: (m) => console.error(m) }
  const agents = Array.from({ length: AGENTS }, () =>
    createAgent({ source: url, service: 'checkout', logger: quiet, onPolicy: () => void arrivals.push(performance.now() - t0) }),
  )
  const startAt = performance.now()
  for (let i = 0; i < AGENTS; i += 100) await Promise.all(agents.slice(i, i + 100).map((a) => a.start()))
  const startMs = performance.now() - startAt
  const held = await waitFor((s) => s.watchers === AGENTS, `${AGENTS} held long polls`)

  const rounds = []
  for (let r = 1; r <= ROUNDS; r++) {
    arrivals = []
    const cpu0 = (await ask('stats')).cpu
    t0 = performance.now()
    writeFileSync(join(dir, 'mesh.yaml'), yaml(r))
    const until = performance.now() + 30_000
    while (arrivals.length < AGENTS && performance.now() < until) await new Promise((res) => setTimeout(res, 5))
    const s = await waitFor((x) => x.watchers === AGENTS, 'agents to poll again')
    const sorted = [...arrivals].sort((a, b) => a - b)
    const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
    const cpuMs = (s.cpu.user - cpu0.user + s.cpu.system - cpu0.system) / 1000
    rounds.push({ got: sorted.length, p50: pct(50), p99: pct(99), max: sorted.at(-1), cpuMs, rss: s.rss })
  }

  await Promise.all(agents.map((a) => a.close()))
  await ask('close').catch(() => {})
  rmSync(dir, { recursive: true, force: true })

  const mb = (b) => (b / 1024 / 1024).toFixed(1)
  const rows = rounds.map((x, i) => [
    i + 1,
    `${x.got}/${AGENTS}`,
    x.p50.toFixed(1),
    x.p99.toFixed(1),
    x.max.toFixed(1),
    x.cpuMs.toFixed(0),
    mb(x.rss),
  ])
  rows.push([
    'median',
    '',
    median(rounds.map((x) => x.p50)).toFixed(1),
    median(rounds.map((x) => x.p99)).toFixed(1),
    median(rounds.map((x) => x.max)).toFixed(1),
    median(rounds.map((x) => x.cpuMs)).toFixed(0),
    mb(median(rounds.map((x) => x.rss))),
  ])
  report(
    'control-plane',
    `Propagation of one change to ${AGENTS} long-polling agents (loopback, directory store)`,
    ['round', 'agents updated', 'p50 ms', 'p99 ms', 'max ms', 'control plane CPU ms', 'control plane RSS MB'],
    rows,
    [
      `Time from writing mesh.yaml to each agent's onPolicy (the folder watch, validation, 1 000 answers, each agent's validation).`,
      `Control plane RSS: ${mb(idle.rss)} MB idle, ${mb(held.rss)} MB holding ${AGENTS} long polls. All agents started in ${startMs.toFixed(0)} ms.`,
      'The agents share one process, so their validations queue on one core: the p99 is an upper bound for agents in their own processes.',
    ],
  )
}
