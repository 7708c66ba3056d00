/** `weft routes <admin-url>`: per route, success rate, requests per second and latency percentiles, effective and actual. */
import type { Command } from 'commander'
import { adminUrl, getText } from '../admin-client.js'
import { choiceFlag, directionFlag } from '../flags.js'
import { parseSamples, type Sample } from '../prom-text.js'
import { ms, percent, rate, table } from '../table.js'

export interface RoutesFlags {
  json?: boolean
  wide?: boolean
  /** `-o wide`, as in `kubectl get` and `linkerd viz routes`: the same as `--wide`. */
  output?: string
  /** Measure over this many seconds between two scrapes; `0` (the default) counts since weft started. */
  window?: string
  service?: string
  direction?: string
}

/** One route's figures. Latencies in milliseconds; `NaN` when there is nothing to measure. */
export interface RouteRow {
  direction: string
  service: string
  route: string
  requests: number
  /** Share of calls whose fate was `ok` or `ok_after_retry` ("effective"). */
  success: number
  rps: number
  p50: number
  p95: number
  p99: number
  /** Tries on the wire ("actual"); outbound only. */
  actualRequests: number
  actualSuccess: number
  actualRps: number
  actualP50: number
  actualP95: number
  actualP99: number
}

const OK_FATES = new Set(['ok', 'ok_after_retry'])
/** What `-o` takes. */
const OUTPUT_FORMATS = ['wide'] as const

export function registerRoutes(program: Command): void {
  program
    .command('routes')
    .description(
      "per route: success rate, requests per second and latency (effective; -o wide adds actual, per try), from a weft admin endpoint's /metrics",
    )
    .argument('<admin-url>', 'the admin endpoint, e.g. http://127.0.0.1:9990')
    .option('--window <seconds>', 'measure between two scrapes this many seconds apart; 0 counts since weft started', '0')
    .option('--service <name>', 'only this service')
    .option('--direction <direction>', 'only outbound or only inbound calls')
    .option('-o, --output <format>', 'wide: add the actual (per try) success rate, rate and latency')
    .option('--wide', 'the same as -o wide')
    .option('--json', 'print JSON instead of a table')
    .action(async (url: string, flags: RoutesFlags) => {
      process.exitCode = await runRoutes(url, flags)
    })
}

/** Prints the routes table (or JSON); resolves to the exit code. */
export async function runRoutes(url: string, flags: RoutesFlags, out: (text: string) => void = console.log): Promise<number> {
  const base = adminUrl(url)
  const output = flags.output === undefined ? undefined : choiceFlag('-o', flags.output, OUTPUT_FORMATS)
  const wide = flags.wide === true || output === 'wide'
  const window = Number(flags.window ?? '0')
  if (!Number.isFinite(window) || window < 0) throw new Error(`--window must be a number of seconds ≥ 0, got ${flags.window}`)
  const direction = directionFlag(flags.direction)
  let before: Sample[] | undefined
  if (window > 0) {
    before = await scrape(base)
    await new Promise((resolve) => setTimeout(resolve, window * 1000))
  }
  const now = Date.now() / 1000
  const after = await scrape(base)
  let rows = routeRows(after, before, window > 0 ? window : now - startTime(after))
  if (flags.service !== undefined) rows = rows.filter((r) => r.service === flags.service)
  if (direction !== undefined) rows = rows.filter((r) => r.direction === direction)
  if (flags.json) {
    out(JSON.stringify(rows.map(jsonRow), null, 2))
    return 0
  }
  if (rows.length === 0) {
    out('no calls measured yet')
    return 0
  }
  const header = ['ROUTE', 'SERVICE', 'DIR', 'SUCCESS', 'RPS', 'P50', 'P95', 'P99']
  if (wide) header.push('ACTUAL_SUCCESS', 'ACTUAL_RPS', 'ACTUAL_P50', 'ACTUAL_P95', 'ACTUAL_P99')
  out(
    table(
      header,
      rows.map((r) => {
        const cells = [
          r.route || '-',
          r.service,
          r.direction === 'outbound' ? 'out' : 'in',
          percent(r.success),
          rate(r.rps),
          ms(r.p50),
          ms(r.p95),
          ms(r.p99),
        ]
        if (wide) cells.push(percent(r.actualSuccess), rate(r.actualRps), ms(r.actualP50), ms(r.actualP95), ms(r.actualP99))
        return cells
      }),
    ),
  )
  return 0
}

/** One scrape of the admin endpoint's `/metrics`; refused when it holds none of weft's, so no table of nothing is printed. */
async function scrape(base: string): Promise<Sample[]> {
  const samples = parseSamples(await getText(base, '/metrics'))
  if (!samples.some((s) => s.name === 'weft_start_time_seconds'))
    throw new Error(`${base}/metrics serves no weft mesh metrics: give the URL of a mesh's admin endpoint (mesh.admin())`)
  return samples
}

function startTime(samples: Sample[]): number {
  const s = samples.find((x) => x.name === 'weft_start_time_seconds')
  return s === undefined ? Number.NaN : s.value
}

function jsonRow(r: RouteRow) {
  const n = (v: number) => (Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null)
  return {
    direction: r.direction,
    service: r.service,
    route: r.route,
    requests: r.requests,
    success: n(r.success),
    rps: n(r.rps),
    latencyMs: { p50: n(r.p50), p95: n(r.p95), p99: n(r.p99) },
    actual: {
      requests: r.actualRequests,
      success: n(r.actualSuccess),
      rps: n(r.actualRps),
      latencyMs: { p50: n(r.actualP50), p95: n(r.actualP95), p99: n(r.actualP99) },
    },
  }
}

interface Acc {
  direction: string
  service: string
  route: string
  requests: number
  ok: number
  buckets: Map<number, number>
  tries: number
  triesOk: number
  tryBuckets: Map<number, number>
}

/** Figures per route from one scrape, or from the difference of two; `seconds` is the time they cover. */
export function routeRows(after: Sample[], before: Sample[] | undefined, seconds: number): RouteRow[] {
  const accs = new Map<string, Acc>()
  const acc = (direction: string, service: string, route: string): Acc => {
    const key = `${direction}\u0000${service}\u0000${route}`
    let a = accs.get(key)
    if (a === undefined) {
      a = { direction, service, route, requests: 0, ok: 0, buckets: new Map(), tries: 0, triesOk: 0, tryBuckets: new Map() }
      accs.set(key, a)
    }
    return a
  }
  const apply = (samples: Sample[], sign: number) => {
    for (const s of samples) {
      const l = s.labels
      if (s.name === 'weft_requests_total') {
        const a = acc(l.direction ?? '', l.service ?? '', l.route ?? '')
        a.requests += sign * s.value
        if (OK_FATES.has(l.fate ?? '')) a.ok += sign * s.value
      } else if (s.name === 'weft_request_duration_seconds_bucket') {
        const a = acc(l.direction ?? '', l.service ?? '', l.route ?? '')
        const le = l.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(l.le)
        a.buckets.set(le, (a.buckets.get(le) ?? 0) + sign * s.value)
      } else if (s.name === 'weft_attempt_duration_seconds_bucket') {
        const a = acc('outbound', l.service ?? '', l.route ?? '')
        const le = l.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(l.le)
        a.tryBuckets.set(le, (a.tryBuckets.get(le) ?? 0) + sign * s.value)
      } else if (s.name === 'weft_attempt_duration_seconds_count') {
        const a = acc('outbound', l.service ?? '', l.route ?? '')
        a.tries += sign * s.value
        if (l.classification === 'success') a.triesOk += sign * s.value
      }
    }
  }
  apply(after, 1)
  if (before !== undefined) apply(before, -1)
  const rows: RouteRow[] = []
  for (const a of accs.values()) {
    if (a.requests <= 0 && a.tries <= 0) continue
    const q = (buckets: Map<number, number>, p: number) => quantile(buckets, p) * 1000
    rows.push({
      direction: a.direction,
      service: a.service,
      route: a.route,
      requests: a.requests,
      success: a.requests > 0 ? a.ok / a.requests : Number.NaN,
      rps: a.requests / seconds,
      p50: q(a.buckets, 0.5),
      p95: q(a.buckets, 0.95),
      p99: q(a.buckets, 0.99),
      actualRequests: a.tries,
      actualSuccess: a.tries > 0 ? a.triesOk / a.tries : Number.NaN,
      actualRps: a.tries / seconds,
      actualP50: q(a.tryBuckets, 0.5),
      actualP95: q(a.tryBuckets, 0.95),
      actualP99: q(a.tryBuckets, 0.99),
    })
  }
  return rows.sort((x, y) => y.requests - x.requests || x.service.localeCompare(y.service) || x.route.localeCompare(y.route))
}

/** `histogram_quantile` over cumulative buckets keyed by upper bound (seconds). */
export function quantile(cumulative: Map<number, number>, q: number): number {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b)
  const total = cumulative.get(Number.POSITIVE_INFINITY) ?? 0
  if (bounds.length === 0 || total <= 0) return Number.NaN
  const rank = q * total
  let prevBound = 0
  let prevCount = 0
  for (const b of bounds) {
    const c = cumulative.get(b) as number
    if (c >= rank) {
      if (b === Number.POSITIVE_INFINITY) return prevBound
      const inBucket = c - prevCount
      return inBucket <= 0 ? b : prevBound + (b - prevBound) * ((rank - prevCount) / inBucket)
    }
    prevBound = b
    prevCount = c
  }
  return prevBound
}
