// Propagation of one policy change to many long-polling agents, and the control plane's memory while it
// holds them. The control plane runs in a child process of its own (so its RSS is its own); the agents run
// in BENCH_AGENT_PROCS other processes, as a fleet of services would (each agent validates every document,
// so agents crowded into one process queue their validations behind each other on one core).
// Run: npx turbo run build --filter=@weft/control-plane... && node bench/control-plane.mjs
// Knobs: BENCH_AGENTS (1000), BENCH_ROUNDS (5), BENCH_AGENT_PROCS (4).
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { median, report } from './lib.mjs'

const { env } = process
const now = () => performance.timeOrigin + performance.now()

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

/** A child process that answers messages with `serve(message)`. */
function child(role, extraEnv = {}) {
  const proc = fork(new URL(import.meta.url), { env: { ...env, WEFT_BENCH_ROLE: role, ...extraEnv }, stdio: 'inherit' })
  const replies = []
  proc.on('message', (m) => replies.shift()?.(m))
  const next = () => new Promise((resolve) => replies.push(resolve))
  return {
    ready: next(),
    ask(m) {
      const p = next()
      proc.send(m)
      return p
    },
    async close() {
      const exited = new Promise((resolve) => proc.once('exit', resolve))
      proc.send({ type: 'close' })
      await exited
    },
  }
}

if (env.WEFT_BENCH_ROLE === 'control-plane') {
  const { createControlPlane } = await import('@weft/control-plane')
  const cp = await createControlPlane({ dir: env.WEFT_BENCH_DIR, port: 0, logger: { warn: (m) => console.error(m) } })
  process.on('message', (m) => {
    if (m.type === 'stats') process.send({ rss: process.memoryUsage().rss, watchers: cp.status().watchers, cpu: process.cpuUsage() })
    if (m.type === 'close') cp.close().then(() => process.exit(0))
  })
  process.send({ url: cp.url })
} else if (env.WEFT_BENCH_ROLE === 'agents') {
  const { createAgent } = await import('@weft/agent')
  let agents = []
  let arrivals = []
  process.on('message', async (m) => {
    if (m.type === 'start') {
      agents = Array.from({ length: m.count }, () =>
        createAgent({
          source: m.url,
          service: 'checkout',
          logger: { warn: (x) => console.error(x) },
          onPolicy: () => void arrivals.push(now()),
        }),
      )
      for (let i = 0; i < agents.length; i += 50) await Promise.all(agents.slice(i, i + 50).map((a) => a.start()))
      process.send({ started: agents.length })
    }
    if (m.type === 'count') process.send({ count: arrivals.length })
    if (m.type === 'collect') {
      process.send({ arrivals, cpu: process.cpuUsage() })
      arrivals = []
    }
    if (m.type === 'close') {
      await Promise.all(agents.map((a) => a.close()))
      process.exit(0)
    }
  })
  process.send({ ready: true })
} else {
  const AGENTS = Number(env.BENCH_AGENTS ?? 1000)
  const ROUNDS = Number(env.BENCH_ROUNDS ?? 5)
  const PROCS = Number(env.BENCH_AGENT_PROCS ?? 4)
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-cp-'))
  writeFileSync(join(dir, 'mesh.yaml'), yaml(0))

  const cp = child('control-plane', { WEFT_BENCH_DIR: dir })
  const { url } = await cp.ready
  const stats = () => cp.ask({ type: 'stats' })
  const waitFor = async (test, what) => {
    const until = performance.now() + 60_000
    for (;;) {
      const s = await stats()
      if (test(s)) return s
      if (performance.now() > until) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  const idle = await stats()

  const fleet = Array.from({ length: PROCS }, () => child('agents'))
  await Promise.all(fleet.map((f) => f.ready))
  const startAt = performance.now()
  const share = (i) => Math.floor(AGENTS / PROCS) + (i < AGENTS % PROCS ? 1 : 0)
  await Promise.all(fleet.map((f, i) => f.ask({ type: 'start', url, count: share(i) })))
  const startMs = performance.now() - startAt
  const held = await waitFor((s) => s.watchers === AGENTS, `${AGENTS} held long polls`)

  const rounds = []
  let lastFleetCpu =
    (await Promise.all(fleet.map((f) => f.ask({ type: 'collect' })))).reduce((a, x) => a + x.cpu.user + x.cpu.system, 0) / 1000
  for (let r = 1; r <= ROUNDS; r++) {
    const cpu0 = (await stats()).cpu
    const t0 = now()
    writeFileSync(join(dir, 'mesh.yaml'), yaml(r))
    const until = performance.now() + 30_000
    for (;;) {
      const counts = await Promise.all(fleet.map((f) => f.ask({ type: 'count' })))
      if (counts.reduce((a, c) => a + c.count, 0) >= AGENTS || performance.now() > until) break
      await new Promise((res) => setTimeout(res, 10))
    }
    const collected = await Promise.all(fleet.map((f) => f.ask({ type: 'collect' })))
    const arrivals = collected.flatMap((x) => x.arrivals.map((t) => t - t0))
    const fleetCpu = collected.reduce((a, x) => a + x.cpu.user + x.cpu.system, 0) / 1000
    const agentCpuMs = fleetCpu - (lastFleetCpu ?? fleetCpu)
    lastFleetCpu = fleetCpu
    const s = await waitFor((x) => x.watchers === AGENTS, 'agents to poll again')
    const sorted = arrivals.sort((a, b) => a - b)
    const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
    const cpuMs = (s.cpu.user - cpu0.user + s.cpu.system - cpu0.system) / 1000
    rounds.push({ got: sorted.length, first: sorted[0], p50: pct(50), p99: pct(99), max: sorted.at(-1), cpuMs, agentCpuMs, rss: s.rss })
  }

  await Promise.all(fleet.map((f) => f.close()))
  await cp.close()
  rmSync(dir, { recursive: true, force: true })

  const mb = (b) => (b / 1024 / 1024).toFixed(1)
  const row = (label, x) => [
    label,
    x.got === undefined ? '' : `${x.got}/${AGENTS}`,
    ...[x.first, x.p50, x.p99, x.max].map((v) => v.toFixed(1)),
    x.cpuMs.toFixed(0),
    mb(x.rss),
    (x.agentCpuMs / AGENTS).toFixed(2),
  ]
  const med = (k) => median(rounds.map((x) => x[k]))
  report(
    'control-plane',
    `Propagation of one change to ${AGENTS} long-polling agents in ${PROCS} processes (loopback, directory store)`,
    [
      'round',
      'agents updated',
      'first ms',
      'p50 ms',
      'p99 ms',
      'max ms',
      'control plane CPU ms',
      'control plane RSS MB',
      'agent CPU ms per update',
    ],
    [
      ...rounds.map((x, i) => row(i + 1, x)),
      row('median', {
        first: med('first'),
        p50: med('p50'),
        p99: med('p99'),
        max: med('max'),
        cpuMs: med('cpuMs'),
        rss: med('rss'),
        agentCpuMs: med('agentCpuMs'),
      }),
    ],
    [
      "Time from writing mesh.yaml to each agent's onPolicy: the folder watch (20 ms debounce), the control plane's validation, its answers to every held poll, and each agent's own validation.",
      `Control plane RSS: ${mb(idle.rss)} MB idle, ${mb(held.rss)} MB holding ${AGENTS} long polls. All agents started in ${startMs.toFixed(0)} ms. ${env.BENCH_NOTE ?? ''}`,
    ],
  )
}
