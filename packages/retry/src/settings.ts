/**
 * Retry settings resolved once per stack: one entry per route of the service's policy (looked up
 * by `call.route`), with `retries.on` compiled into a status table and a set of failure kinds.
 */
import { type Duration, type OutcomeKind, parseDuration, WeftError } from '@weft/core'
import type { HedgePolicy, RetryOn, RetryPolicy, RoutePolicy, ServicePolicy } from '@weft/policy'
import { LatencyTracker } from './latency.js'

export interface HedgeOptions {
  /** A fixed delay before each extra try. Give this or `percentile`. */
  delay?: Duration
  /** Hedge at this observed latency percentile (Finagle backup requests: 99 ≈ 1 % extra load). */
  percentile?: number
  /** Tries in all, the first included. Default `2`. */
  maxAttempts?: number
}

export interface RetrySettingsOptions {
  /** Tries in all, the first included; `1` means no retry. Default `3`. */
  attempts?: number
  /** Timeout of each try; none by default (only the overall deadline bounds a try). */
  perTryTimeout?: Duration
  /** Outcomes worth another try. Default `['connect-failure', 'reset', 502, 503, 504]`. */
  on?: readonly RetryOn[]
  /** Full-jitter exponential backoff. Default `{ base: '25ms', max: '250ms' }`. */
  backoff?: { base?: Duration; max?: Duration }
  /** Retry POST and PATCH without an `idempotency-key` header. Default `false`. */
  unsafe?: boolean
  /** Bytes of a streamed request body kept for replay; a longer one is sent once. Default `65536`. */
  bufferLimit?: number
  /** Overall timeout of a call: every try and every backoff. Default none. */
  timeout?: Duration
  /** Hedged (backup) tries for safe calls. Default none. */
  hedge?: HedgeOptions
}

export const RETRY_DEFAULTS = {
  attempts: 3,
  on: ['connect-failure', 'reset', 502, 503, 504] as readonly RetryOn[],
  backoff: { base: 25, max: 250 },
  unsafe: false,
  bufferLimit: 65_536,
  maxRetryAfter: 10_000,
  hedgeMaxAttempts: 2,
} as const

/** What the retry layer needs to know about one route, resolved once. */
export interface RouteSettings {
  readonly route: string | undefined
  readonly attempts: number
  readonly perTryTimeout: number | undefined
  /** 1 at the index of every status worth a retry (0–599). */
  readonly statuses: Uint8Array
  readonly kinds: ReadonlySet<OutcomeKind>
  readonly backoffBase: number
  readonly backoffMax: number
  readonly unsafe: boolean
  readonly bufferLimit: number
  readonly timeout: number | undefined
  readonly hedge: HedgeSettings | undefined
  /** Nothing to do but stamp the attempt: one try, no per-try timeout, no hedge. */
  readonly single: boolean
}

export interface HedgeSettings {
  readonly delay: number | undefined
  readonly percentile: number | undefined
  readonly maxAttempts: number
  /** Observed latency of this route's tries, for `percentile`; made per stack by `forStack`. */
  readonly latency: LatencyTracker | undefined
}

/** Compiles `retries.on` into a status table and a set of failure kinds. */
export function compileOn(on: readonly RetryOn[], where: string): { statuses: Uint8Array; kinds: Set<OutcomeKind> } {
  const statuses = new Uint8Array(600)
  const kinds = new Set<OutcomeKind>()
  const range = (from: number, to: number) => statuses.fill(1, from, to + 1)
  for (const item of on) {
    if (typeof item === 'number') {
      if (!Number.isInteger(item) || item < 100 || item > 599) throw invalid(`${where}.on: ${item} is not an HTTP status (100–599)`)
      statuses[item] = 1
      // a per-try timeout is the 504 a proxy would have answered (Envoy)
      if (item === 504) kinds.add('timeout')
      continue
    }
    switch (item) {
      case '5xx':
        range(500, 599)
        for (const k of ['connect-failure', 'reset', 'refused-stream', 'timeout'] as const) kinds.add(k)
        break
      case 'gateway-error':
        range(502, 504)
        kinds.add('connect-failure')
        kinds.add('timeout')
        break
      case 'retriable-4xx':
        statuses[409] = 1
        break
      case 'connect-failure':
      case 'reset':
      case 'refused-stream':
      case 'timeout':
        kinds.add(item)
        break
      default:
        throw invalid(`${where}.on: unknown condition ${JSON.stringify(item)}`)
    }
  }
  return { statuses, kinds }
}

/** Settings from options written in code (durations as strings or ms). */
export function settingsFromOptions(options: RetrySettingsOptions, route: string | undefined, where = 'retry'): RouteSettings {
  const attempts = options.attempts ?? RETRY_DEFAULTS.attempts
  if (!Number.isInteger(attempts) || attempts < 1) throw invalid(`${where}.attempts must be an integer ≥ 1, got ${attempts}`)
  const bufferLimit = options.bufferLimit ?? RETRY_DEFAULTS.bufferLimit
  if (!(bufferLimit >= 0 && Number.isFinite(bufferLimit))) throw invalid(`${where}.bufferLimit must be a number of bytes ≥ 0`)
  const { statuses, kinds } = compileOn(options.on ?? RETRY_DEFAULTS.on, where)
  const perTryTimeout = positive(options.perTryTimeout, `${where}.perTryTimeout`)
  const hedge = options.hedge === undefined ? undefined : hedgeSettings(options.hedge, `${where}.hedge`)
  return finish({
    route,
    attempts,
    perTryTimeout,
    statuses,
    kinds,
    backoffBase: duration(options.backoff?.base, RETRY_DEFAULTS.backoff.base, `${where}.backoff.base`),
    backoffMax: duration(options.backoff?.max, RETRY_DEFAULTS.backoff.max, `${where}.backoff.max`),
    unsafe: options.unsafe ?? RETRY_DEFAULTS.unsafe,
    bufferLimit,
    timeout: positive(options.timeout, `${where}.timeout`),
    hedge,
  })
}

/** Settings of one route of a resolved policy (durations already in ms). */
export function settingsFromPolicy(
  retries: RetryPolicy,
  timeout: number | undefined,
  hedge: HedgePolicy | undefined,
  route: string | undefined,
  where: string,
): RouteSettings {
  const { statuses, kinds } = compileOn(retries.on, `${where}.retries`)
  return finish({
    route,
    attempts: Math.max(1, Math.floor(retries.attempts)),
    perTryTimeout: retries.perTryTimeout,
    statuses,
    kinds,
    backoffBase: retries.backoff.base,
    backoffMax: retries.backoff.max,
    unsafe: retries.unsafe,
    bufferLimit: retries.bufferLimit,
    timeout,
    hedge:
      hedge === undefined
        ? undefined
        : hedgeSettings({ delay: hedge.delay, percentile: hedge.percentile, maxAttempts: hedge.maxAttempts }, `${where}.hedge`),
  })
}

/** One entry per route of the service, and the service-level settings for calls with no known route. */
export function settingsFromService(service: ServicePolicy): { routes: Map<string, RouteSettings>; fallback: RouteSettings } {
  const where = `services.${service.name}`
  const routes = new Map<string, RouteSettings>()
  ;(service.routes ?? []).forEach((route: RoutePolicy, i: number) => {
    routes.set(
      route.name,
      settingsFromPolicy(
        route.retries ?? service.retries,
        route.timeout ?? service.timeout,
        route.hedge,
        route.name,
        `${where}.routes[${i}]`,
      ),
    )
  })
  return { routes, fallback: settingsFromPolicy(service.retries, service.timeout, undefined, undefined, where) }
}

function hedgeSettings(hedge: HedgeOptions, where: string): HedgeSettings {
  const maxAttempts = hedge.maxAttempts ?? RETRY_DEFAULTS.hedgeMaxAttempts
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw invalid(`${where}.maxAttempts must be an integer ≥ 1, got ${maxAttempts}`)
  const delay = hedge.delay === undefined ? undefined : duration(hedge.delay, 0, `${where}.delay`)
  const percentile = hedge.percentile
  if (delay === undefined && percentile === undefined) throw invalid(`${where}: give a delay or a percentile`)
  if (percentile !== undefined && !(percentile > 0 && percentile < 100))
    throw invalid(`${where}.percentile must be between 0 and 100, got ${percentile}`)
  return { delay, percentile, maxAttempts, latency: undefined }
}

/** The same settings with per-stack state of their own (a latency tracker for percentile hedging). */
export function forStack(s: RouteSettings): RouteSettings {
  if (s.hedge === undefined || s.hedge.delay !== undefined) return s
  return { ...s, hedge: { ...s.hedge, latency: new LatencyTracker() } }
}

function finish(s: Omit<RouteSettings, 'single'>): RouteSettings {
  return { ...s, single: s.attempts === 1 && s.perTryTimeout === undefined && (s.hedge === undefined || s.hedge.maxAttempts === 1) }
}

function duration(value: Duration | undefined, fallback: number, where: string): number {
  if (value === undefined) return fallback
  try {
    return parseDuration(value)
  } catch (err) {
    throw invalid(`${where}: ${(err as Error).message}`)
  }
}

function positive(value: Duration | undefined, where: string): number | undefined {
  if (value === undefined) return undefined
  const ms = duration(value, 0, where)
  if (ms <= 0) throw invalid(`${where} must be longer than 0`)
  return ms
}

function invalid(message: string): WeftError {
  return new WeftError('WEFT_INVALID_ARGUMENT', message)
}

/**
 * Whether `service` gives the retry layer anything to do: a second try, a per-try or route
 * timeout, or a hedge on some route. When it does not, the mesh leaves the layer out of the stack
 * (the dispatcher already stamps a first try's `x-weft-attempt: 1`). @internal
 */
export function retriesConfigured(service: ServicePolicy): boolean {
  const { routes, fallback } = settingsFromService(service)
  const busy = (s: RouteSettings) => !s.single || s.timeout !== undefined
  if (busy(fallback)) return true
  for (const s of routes.values()) if (busy(s)) return true
  return false
}
