/**
 * The counts behind weft's metrics, in plain numbers: one entry per direction and service, one per
 * route under it, and one cell per method, status and fate under that — found once and then only
 * incremented, so the hot path hashes no labels and allocates nothing.
 */
import type { Direction } from '@weft/core'
import { FATES, type Fate } from './fate.js'
import { HistogramCell } from './histogram.js'

/** Methods with their own label value; any other is `_OTHER` (OTel's convention), so labels stay bounded. */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', '_OTHER'] as const
const OTHER_METHOD = METHODS.length - 1
/** Label values of statuses, made once: `''` for none (an error without a response). */
const CODES = Array.from({ length: 600 }, (_, i) => (i === 0 ? '' : String(i)))

// a scan of ten short strings, not a keyed lookup in a dictionary object: ~200 instructions less per call
export function methodIndex(method: string): number {
  const i = (METHODS as readonly string[]).indexOf(method)
  return i === -1 || i === OTHER_METHOD ? OTHER_METHOD : i
}

export function fateIndex(fate: Fate): number {
  return FATES.indexOf(fate)
}

/** One series of `weft_requests_total`. */
export interface RequestCell {
  readonly method: string
  readonly code: string
  readonly fate: Fate
  count: number
}

/** Everything counted for one route of one service in one direction. */
export class RouteStats {
  readonly direction: Direction
  readonly service: string
  readonly route: string
  readonly requests = new Map<number, RequestCell>()
  /** Per call, from entering the stack to the reply's head: "effective" latency. */
  readonly duration: HistogramCell
  /** Per try on the wire, successes and failures apart: "actual" latency. */
  readonly attemptsOk: HistogramCell
  readonly attemptsFailed: HistogramCell
  retries = 0
  #lastKey = -1
  #lastCell: RequestCell | undefined

  constructor(direction: Direction, service: string, route: string, boundsMs: Float64Array) {
    this.direction = direction
    this.service = service
    this.route = route
    this.duration = new HistogramCell(boundsMs)
    this.attemptsOk = new HistogramCell(boundsMs)
    this.attemptsFailed = new HistogramCell(boundsMs)
  }

  /** Counts one finished call. `status` 0 means no response. */
  count(method: number, status: number, fate: number): void {
    const key = (status * 16 + fate) * 16 + method
    // most calls of a route land in the same series as the one before: no map lookup for them
    if (key === this.#lastKey) {
      ;(this.#lastCell as RequestCell).count++
      return
    }
    let cell = this.requests.get(key)
    if (cell === undefined) {
      cell = { method: METHODS[method] as string, code: CODES[status] ?? '', fate: FATES[fate] as Fate, count: 0 }
      this.requests.set(key, cell)
    }
    this.#lastKey = key
    this.#lastCell = cell
    cell.count++
  }
}

/** Everything counted for one service in one direction. */
export class ServiceStats {
  readonly direction: Direction
  readonly service: string
  inFlight = 0
  readonly routes = new Map<string, RouteStats>()
  readonly #boundsMs: Float64Array
  #lastName: string | undefined
  #last: RouteStats | undefined

  constructor(direction: Direction, service: string, boundsMs: Float64Array) {
    this.direction = direction
    this.service = service
    this.#boundsMs = boundsMs
  }

  /** The stats of a route (`''` when none matched); made on first use. */
  route(name: string): RouteStats {
    if (name === this.#lastName) return this.#last as RouteStats
    let stats = this.routes.get(name)
    if (stats === undefined) {
      stats = new RouteStats(this.direction, this.service, name, this.#boundsMs)
      this.routes.set(name, stats)
    }
    this.#lastName = name
    this.#last = stats
    return stats
  }

  /** Forgets every route's counts (a registry reset), the cached last one included. */
  clear(): void {
    this.routes.clear()
    this.#lastName = undefined
    this.#last = undefined
  }
}

/** A balancer's view of one endpoint, for `weft_endpoint_state`. */
export interface EndpointStateRow {
  readonly service: string
  /** `host:port` */
  readonly endpoint: string
  /** e.g. `healthy`, `ejected`, `draining`. */
  readonly state: string
}

/** A breaker's state, for `weft_circuit_state`. */
export interface CircuitStateRow {
  readonly service: string
  /** `closed`, `open` or `half_open`. */
  readonly state: string
}

/** What an inbound deadline layer counted (`@weft/deadline`'s `DeadlineStats`), for the deadline metrics. */
export interface DeadlineCounts {
  /** Invalid deadline header values ignored, by header name. */
  readonly invalid: Readonly<Record<string, number>>
  readonly shed: number
  readonly clamped: number
  readonly expired: number
}

/** What one mesh server accepted and refused (`@weft/mtls`'s `MeshServerStats`), for the connection metrics. */
export interface ConnectionCounts {
  readonly mtls: number
  readonly tls: number
  readonly plaintext: number
  /** Refused connections by reason. */
  readonly refused: Readonly<Record<string, number>>
}

/** All counts of one registry. */
export class MetricsStore {
  readonly services = new Map<string, ServiceStats>()
  readonly endpointSources = new Set<() => Iterable<EndpointStateRow>>()
  readonly circuitSources = new Set<() => Iterable<CircuitStateRow>>()
  readonly deadlineSources = new Set<() => DeadlineCounts>()
  readonly connectionSources = new Set<() => Iterable<ConnectionCounts>>()
  readonly boundsMs: Float64Array
  readonly bucketsSeconds: readonly number[]
  /** Epoch seconds when counting began. */
  readonly startTime: number

  constructor(bucketsSeconds: readonly number[], boundsMs: Float64Array, now: number) {
    this.bucketsSeconds = bucketsSeconds
    this.boundsMs = boundsMs
    this.startTime = now / 1000
  }

  service(direction: Direction, name: string): ServiceStats {
    const key = `${direction} ${name}`
    let stats = this.services.get(key)
    if (stats === undefined) {
      stats = new ServiceStats(direction, name, this.boundsMs)
      this.services.set(key, stats)
    }
    return stats
  }

  *routes(): Iterable<RouteStats> {
    for (const s of this.services.values()) yield* s.routes.values()
  }

  reset(): void {
    for (const s of this.services.values()) s.clear()
  }
}
