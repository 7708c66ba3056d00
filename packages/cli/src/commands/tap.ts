/** `weft tap <admin-url>`: one line per finished call, live, from the admin endpoint's `/tap`. */
import type { Command } from 'commander'
import { adminUrl, readTap } from '../admin-client.js'
import { directionFlag, secondsFlag } from '../flags.js'
import { ms } from '../table.js'

export interface TapFlags {
  service?: string
  route?: string
  path?: string
  method?: string
  direction?: string
  /** Stop after this many calls. */
  count?: string
  /** Stop after this many seconds. */
  duration?: string
  json?: boolean
}

/** A call summary as `/tap` sends it. */
export interface TapLine {
  time: number
  direction: string
  service: string
  route: string
  method: string
  authority: string
  path: string
  status: number
  latencyMs: number
  attempts: number
  fate: string
  error?: string
  peer?: string
  traceId?: string
}

export function registerTap(program: Command): void {
  program
    .command('tap')
    .description("live call summaries from a weft admin endpoint's /tap, one line per call (like linkerd tap)")
    .argument('<admin-url>', 'the admin endpoint, e.g. http://127.0.0.1:9990')
    .option('--service <name>', 'only calls to (outbound) or of (inbound) this service')
    .option('--route <name>', 'only this route')
    .option('--path <prefix>', 'only paths starting with this')
    .option('--method <method>', 'only this method')
    .option('--direction <direction>', 'only outbound or only inbound calls')
    .option('--count <n>', 'stop after this many calls')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--json', 'one JSON object per line')
    .action(async (url: string, flags: TapFlags) => {
      process.exitCode = await runTap(url, flags)
    })
}

/** Formats one call: `out payments POST /charge :status=200 latency=1.2ms route=charge attempts=1 fate=ok`. */
export function formatTapLine(e: TapLine): string {
  const parts = [
    new Date(e.time).toISOString().slice(11, 23),
    e.direction === 'inbound' ? 'in ' : 'out',
    e.service,
    e.method,
    `${e.authority}${e.path}`,
    `:status=${e.status === 0 ? '-' : e.status}`,
    `latency=${ms(e.latencyMs)}`,
    `route=${e.route || '-'}`,
    `attempts=${e.attempts}`,
    `fate=${e.fate}`,
  ]
  if (e.error !== undefined) parts.push(`error=${e.error}`)
  if (e.peer !== undefined) parts.push(`peer=${e.peer}`)
  if (e.traceId !== undefined) parts.push(`trace=${e.traceId}`)
  return parts.join(' ')
}

/** Prints calls until `--count`, `--duration`, the stream's end or `signal`; resolves to the exit code. */
export async function runTap(
  url: string,
  flags: TapFlags,
  out: (line: string) => void = console.log,
  signal?: AbortSignal,
): Promise<number> {
  const base = adminUrl(url)
  const limit = flags.count === undefined ? Number.POSITIVE_INFINITY : Number(flags.count)
  if (!(limit > 0)) throw new Error(`--count must be a positive number, got ${flags.count}`)
  const direction = directionFlag(flags.direction)
  const duration = secondsFlag('--duration', flags.duration)
  const stop = new AbortController()
  signal?.addEventListener('abort', () => stop.abort(), { once: true })
  const timer = duration === undefined ? undefined : setTimeout(() => stop.abort(), duration * 1000)
  const onSignal = () => stop.abort()
  process.once('SIGINT', onSignal)
  let seen = 0
  try {
    await readTap(
      base,
      { service: flags.service, route: flags.route, path: flags.path, method: flags.method, direction },
      (e) => {
        if (stop.signal.aborted) return
        if (e.event === 'dropped') {
          out(
            flags.json
              ? JSON.stringify({ dropped: JSON.parse(e.data).dropped })
              : `# ${JSON.parse(e.data).dropped} calls dropped: this reader fell behind`,
          )
          return
        }
        const line = JSON.parse(e.data) as TapLine
        out(flags.json ? JSON.stringify(line) : formatTapLine(line))
        if (++seen >= limit) stop.abort()
      },
      stop.signal,
    )
  } finally {
    if (timer !== undefined) clearTimeout(timer)
    process.off('SIGINT', onSignal)
  }
  return 0
}
