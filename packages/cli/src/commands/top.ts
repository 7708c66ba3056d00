/** `weft top <admin-url>`: a live table of the busiest paths, refreshed from the admin endpoint's `/tap`. */
import type { Command } from 'commander'
import { adminUrl, readTap } from '../admin-client.js'
import { directionFlag, secondsFlag, wholeFlag } from '../flags.js'
import { ms, percent, table } from '../table.js'
import type { TapLine } from './tap.js'

export interface TopFlags {
  service?: string
  route?: string
  path?: string
  direction?: string
  /** Seconds between refreshes. */
  interval?: string
  /** Stop after this many seconds. */
  duration?: string
  /** Rows shown at most. */
  rows?: string
  json?: boolean
}

/** One path's figures since `weft top` started. */
export interface TopRow {
  direction: string
  service: string
  method: string
  path: string
  count: number
  success: number
  bestMs: number
  lastMs: number
  worstMs: number
}

export function registerTop(program: Command): void {
  program
    .command('top')
    .description("the busiest paths, live, from a weft admin endpoint's /tap (like linkerd top)")
    .argument('<admin-url>', 'the admin endpoint, e.g. http://127.0.0.1:9990')
    .option('--service <name>', 'only this service')
    .option('--route <name>', 'only this route')
    .option('--path <prefix>', 'only paths starting with this')
    .option('--direction <direction>', 'only outbound or only inbound calls')
    .option('--interval <seconds>', 'seconds between refreshes', '1')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--rows <n>', 'rows shown at most (default: what fits the terminal)')
    .option('--json', 'print a JSON snapshot per refresh instead of a table')
    .action(async (url: string, flags: TopFlags) => {
      process.exitCode = await runTop(url, flags)
    })
}

/** Groups calls by direction, service, method and path (query cut off). */
export class TopTable {
  readonly #rows = new Map<string, TopRow & { ok: number }>()

  add(e: TapLine): void {
    const q = e.path.indexOf('?')
    const path = q === -1 ? e.path : e.path.slice(0, q)
    const key = `${e.direction} ${e.service} ${e.method} ${path}`
    let row = this.#rows.get(key)
    if (row === undefined) {
      row = {
        direction: e.direction,
        service: e.service,
        method: e.method,
        path,
        count: 0,
        ok: 0,
        success: 0,
        bestMs: Infinity,
        lastMs: 0,
        worstMs: 0,
      }
      this.#rows.set(key, row)
    }
    row.count++
    if (e.fate === 'ok' || e.fate === 'ok_after_retry') row.ok++
    row.success = row.ok / row.count
    row.lastMs = e.latencyMs
    row.bestMs = Math.min(row.bestMs, e.latencyMs)
    row.worstMs = Math.max(row.worstMs, e.latencyMs)
  }

  /** The busiest rows first. */
  top(n: number): TopRow[] {
    return [...this.#rows.values()]
      .sort((a, b) => b.count - a.count || a.path.localeCompare(b.path))
      .slice(0, n)
      .map(({ ok: _, ...row }) => row)
  }

  render(n: number): string {
    return table(
      ['DIR', 'SERVICE', 'METHOD', 'PATH', 'COUNT', 'SUCCESS', 'BEST', 'LAST', 'WORST'],
      this.top(n).map((r) => [
        r.direction === 'inbound' ? 'in' : 'out',
        r.service,
        r.method,
        r.path.length > 60 ? `${r.path.slice(0, 59)}…` : r.path,
        String(r.count),
        percent(r.success),
        ms(r.bestMs),
        ms(r.lastMs),
        ms(r.worstMs),
      ]),
    )
  }
}

/** Shows the table every `--interval` until `--duration`, the stream's end or `signal`; resolves to the exit code. */
export async function runTop(
  url: string,
  flags: TopFlags,
  out: (text: string) => void = (t) => process.stdout.write(t),
  signal?: AbortSignal,
): Promise<number> {
  const base = adminUrl(url)
  const interval = secondsFlag('--interval', flags.interval) ?? 1
  const duration = secondsFlag('--duration', flags.duration)
  const direction = directionFlag(flags.direction)
  const tty = process.stdout.isTTY === true && !flags.json
  const rows = wholeFlag('--rows', flags.rows, 1) ?? (tty ? Math.max(5, (process.stdout.rows ?? 24) - 3) : 20)
  const top = new TopTable()
  const stop = new AbortController()
  signal?.addEventListener('abort', () => stop.abort(), { once: true })
  const onSignal = () => stop.abort()
  process.once('SIGINT', onSignal)
  const show = () => {
    if (flags.json) out(`${JSON.stringify({ time: new Date().toISOString(), rows: top.top(rows) })}\n`)
    else out(`${tty ? '\x1b[H\x1b[2J' : ''}${top.render(rows)}\n${tty ? '' : '\n'}`)
  }
  const refresh = setInterval(show, interval * 1000)
  const timer = duration === undefined ? undefined : setTimeout(() => stop.abort(), duration * 1000)
  try {
    await readTap(
      base,
      { service: flags.service, route: flags.route, path: flags.path, direction },
      (e) => {
        if (e.event === 'message') top.add(JSON.parse(e.data) as TapLine)
      },
      stop.signal,
    )
  } finally {
    clearInterval(refresh)
    if (timer !== undefined) clearTimeout(timer)
    process.off('SIGINT', onSignal)
  }
  show()
  return 0
}
