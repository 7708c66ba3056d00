/**
 * weft's metrics as prom-client sees them: objects registered in the Registry that read the
 * store's plain numbers when scraped, so prom-client formats, merges and serves them as usual while
 * the hot path never calls into it.
 */
import type { Registry } from 'prom-client'
import type { HistogramCell } from './histogram.js'
import type { ConnectionCounts, DeadlineCounts, MetricsStore } from './store.js'

type Labels = Record<string, string | number>
interface Value {
  labels: Labels
  value: number
  metricName?: string
}
interface MetricData {
  name: string
  help: string
  type: 'counter' | 'gauge' | 'histogram'
  values: Value[]
  aggregator: 'sum'
}

/** The metric names, as DESIGN.md and docs/observability.md give them. */
export const METRIC_NAMES = {
  requests: 'weft_requests_total',
  duration: 'weft_request_duration_seconds',
  attempts: 'weft_attempt_duration_seconds',
  inFlight: 'weft_requests_in_flight',
  retries: 'weft_retries_total',
  endpointState: 'weft_endpoint_state',
  circuitState: 'weft_circuit_state',
  startTime: 'weft_start_time_seconds',
  deadlineHeadersInvalid: 'weft_deadline_headers_invalid_total',
  inboundDeadlines: 'weft_inbound_deadlines_total',
  connections: 'weft_inbound_connections_total',
  connectionsRefused: 'weft_inbound_connections_refused_total',
} as const

class LiveMetric {
  readonly name: string
  readonly help: string
  readonly type: MetricData['type']
  readonly aggregator = 'sum' as const
  readonly #read: () => Value[]
  readonly #reset: () => void

  constructor(name: string, help: string, type: MetricData['type'], read: () => Value[], reset: () => void = () => {}) {
    this.name = name
    this.help = help
    this.type = type
    this.#read = read
    this.#reset = reset
  }

  async get(): Promise<MetricData> {
    return { name: this.name, help: this.help, type: this.type, values: this.#read(), aggregator: this.aggregator }
  }

  reset(): void {
    this.#reset()
  }
}

function histogramValues(out: Value[], name: string, labels: Labels, cell: HistogramCell, buckets: readonly number[]): void {
  let cumulative = 0
  for (let i = 0; i < buckets.length; i++) {
    cumulative += cell.counts[i] as number
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: buckets[i] as number }, value: cumulative })
  }
  cumulative += cell.counts[buckets.length] as number
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative })
  out.push({ metricName: `${name}_sum`, labels, value: cell.sum / 1000 })
  out.push({ metricName: `${name}_count`, labels, value: cell.count })
}

/** The distinct counts objects the sources answer: meshes sharing a registry and a process-wide object count it once. */
function deadlineCounts(store: MetricsStore): Set<DeadlineCounts> {
  const seen = new Set<DeadlineCounts>()
  for (const source of store.deadlineSources) seen.add(source())
  return seen
}

function connectionCounts(store: MetricsStore): Set<ConnectionCounts> {
  const seen = new Set<ConnectionCounts>()
  for (const source of store.connectionSources) for (const counts of source()) seen.add(counts)
  return seen
}

/** `{ label: key, value }` rows of `pick(counts)` summed over every counts object, one per key. */
function summed<T>(all: Iterable<T>, label: string, pick: (counts: T) => Readonly<Record<string, number>>): Value[] {
  const totals = new Map<string, number>()
  for (const counts of all) for (const [key, n] of Object.entries(pick(counts))) totals.set(key, (totals.get(key) ?? 0) + n)
  return [...totals].map(([key, value]) => ({ labels: { [label]: key }, value }))
}

/** Registers weft's metrics in `registry`, read from `store`. Throws if another store already did. */
export function registerMetrics(registry: Registry, store: MetricsStore): void {
  const buckets = store.bucketsSeconds
  const metrics = [
    new LiveMetric(
      METRIC_NAMES.requests,
      'Calls finished, by direction, service, route, method, status code (empty without a response) and fate.',
      'counter',
      () => {
        const out: Value[] = []
        for (const r of store.routes()) {
          for (const c of r.requests.values())
            out.push({
              labels: { direction: r.direction, service: r.service, route: r.route, method: c.method, code: c.code, fate: c.fate },
              value: c.count,
            })
        }
        return out
      },
      () => store.reset(),
    ),
    new LiveMetric(
      METRIC_NAMES.duration,
      'Call latency from entering the stack to the response head, retries included ("effective").',
      'histogram',
      () => {
        const out: Value[] = []
        for (const r of store.routes()) {
          if (r.duration.count > 0)
            histogramValues(out, METRIC_NAMES.duration, { direction: r.direction, service: r.service, route: r.route }, r.duration, buckets)
        }
        return out
      },
    ),
    new LiveMetric(
      METRIC_NAMES.attempts,
      'Latency of each try on the wire ("actual"), by classification (success or failure).',
      'histogram',
      () => {
        const out: Value[] = []
        for (const r of store.routes()) {
          const labels = { service: r.service, route: r.route }
          if (r.attemptsOk.count > 0)
            histogramValues(out, METRIC_NAMES.attempts, { ...labels, classification: 'success' }, r.attemptsOk, buckets)
          if (r.attemptsFailed.count > 0)
            histogramValues(out, METRIC_NAMES.attempts, { ...labels, classification: 'failure' }, r.attemptsFailed, buckets)
        }
        return out
      },
    ),
    new LiveMetric(METRIC_NAMES.inFlight, 'Calls in the stack now, by direction and service.', 'gauge', () => {
      const out: Value[] = []
      for (const s of store.services.values()) out.push({ labels: { direction: s.direction, service: s.service }, value: s.inFlight })
      return out
    }),
    new LiveMetric(METRIC_NAMES.retries, 'Tries after the first (retries and hedges), by service and route.', 'counter', () => {
      const out: Value[] = []
      for (const r of store.routes())
        if (r.direction === 'outbound') out.push({ labels: { service: r.service, route: r.route }, value: r.retries })
      return out
    }),
    new LiveMetric(METRIC_NAMES.endpointState, 'Endpoints by service and state (1 for the state each endpoint is in).', 'gauge', () => {
      const out: Value[] = []
      for (const source of store.endpointSources)
        for (const row of source()) out.push({ labels: { service: row.service, endpoint: row.endpoint, state: row.state }, value: 1 })
      return out
    }),
    new LiveMetric(METRIC_NAMES.circuitState, "Circuit breakers by service and state (1 for each breaker's state).", 'gauge', () => {
      const out: Value[] = []
      for (const source of store.circuitSources)
        for (const row of source()) out.push({ labels: { service: row.service, state: row.state }, value: 1 })
      return out
    }),
    new LiveMetric(
      METRIC_NAMES.startTime,
      'When weft began counting, in seconds since the epoch (rates since start use it).',
      'gauge',
      () => [{ labels: {}, value: store.startTime }],
    ),
    new LiveMetric(
      METRIC_NAMES.deadlineHeadersInvalid,
      'Inbound deadline headers ignored as invalid (the local default applied), by header name.',
      'counter',
      () => summed(deadlineCounts(store), 'header', (c) => c.invalid),
    ),
    new LiveMetric(
      METRIC_NAMES.inboundDeadlines,
      'Inbound requests the deadline acted on: shed (arrived with no time left, answered 504), clamped (cut to the allowed range), expired (ran out while served).',
      'counter',
      () => summed(deadlineCounts(store), 'outcome', (c) => ({ shed: c.shed, clamped: c.clamped, expired: c.expired })),
    ),
    new LiveMetric(
      METRIC_NAMES.connections,
      'Connections mesh servers accepted, by security (mtls: the client proved an identity; tls: no client certificate; plaintext).',
      'counter',
      () => summed(connectionCounts(store), 'security', (c) => ({ mtls: c.mtls, tls: c.tls, plaintext: c.plaintext })),
    ),
    new LiveMetric(
      METRIC_NAMES.connectionsRefused,
      'Connections mesh servers refused, by reason (plaintext, handshake, certificate, timeout).',
      'counter',
      () => summed(connectionCounts(store), 'reason', (c) => c.refused),
    ),
  ]
  for (const m of metrics) registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0])
}
