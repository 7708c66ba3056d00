// Shared benchmark helpers: an upstream in a child process, closed-loop load, CPU and latency stats.
import { fork } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** Starts bench/server.mjs in a child process; resolves to { port, close }. */
export function startUpstream() {
  const child = fork(new URL('./server.mjs', import.meta.url), { stdio: 'inherit' })
  return new Promise((resolve) => {
    child.once('message', ({ port }) => resolve({ port, close: () => child.kill() }))
  })
}

/**
 * Runs `call` with `concurrency` workers for `seconds`; returns requests/s, latency percentiles
 * (ms) and client CPU µs per request (user + system of this process).
 */
export async function load(call, { concurrency, seconds }) {
  const latencies = []
  let count = 0
  let stop = false
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const timer = setTimeout(() => (stop = true), seconds * 1000)
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stop) {
        const s = performance.now()
        await call()
        latencies.push(performance.now() - s)
        count++
      }
    }),
  )
  clearTimeout(timer)
  const elapsed = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  latencies.sort((a, b) => a - b)
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]
  return { rps: count / elapsed, p50: pct(50), p99: pct(99), cpuUs: (cpu.user + cpu.system) / count, count }
}

/**
 * Forks `script` (a bench's own file) with `args`; resolves to `[child, message]` with the child's
 * first message, rejects if the child exits unsuccessfully before or after it.
 */
export function forkChild(script, args, execArgv = []) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(script), args, { execArgv })
    child.once('message', (message) => resolve([child, message]))
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`${args.join(' ')} exited ${code}`))))
  })
}

/** Makes `n` calls of `call`, `concurrency` at a time, each worker starting its next call when its last one ends. */
export async function closedLoop(call, n, concurrency) {
  let left = n
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await call()
    }),
  )
}

/** Median of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** Prints a markdown table and writes it to bench/results/<name>.md. */
export function report(name, title, header, rows, notes = []) {
  const line = (cells) => `| ${cells.join(' | ')} |`
  const text = [
    `# ${title}`,
    '',
    `Node ${process.version}, ${new Date().toISOString()}`,
    '',
    line(header),
    line(header.map(() => '---')),
    ...rows.map(line),
    '',
    ...notes,
    '',
  ].join('\n')
  console.log(text)
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
  writeFileSync(new URL(`./results/${name}.md`, import.meta.url), text)
}
