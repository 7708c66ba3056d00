/**
 * The route layer: the first route whose match holds names the call's route; its weighted split
 * picks the subset; fault injection acts on it. Compiled once per policy version. Mirroring is its
 * own layer (`mirror.ts`), lower in the stack, so mirrors never pass the retry budget or the breaker.
 */
import {
  type Call,
  type Clock,
  copyCall,
  type HeaderMap,
  headerValue,
  type Middleware,
  type Reply,
  signalOf,
  systemClock,
} from '@weft/core'
import type { FaultPolicy, HashOn, RoutePolicy, ServicePolicy } from '@weft/policy'
import { compileMatches, type Matcher } from './match.js'
import { routeTable } from './route-table.js'

export interface RouteOptions {
  /** The service whose `routes` (in order, the last a catch-all) this layer matches. */
  service: ServicePolicy
  /** Clock for fault delays; tests pass a ManualClock. Default `systemClock`. */
  clock?: Clock
  /** Uniform in [0, 1), for splits and fault percentages. Default `Math.random`. */
  random?: () => number
}

/** Envoy's request headers for fault injection, honoured when a route's `fault.headers` is true. */
export const FAULT_HEADERS = {
  abort: 'x-envoy-fault-abort-request',
  abortPercent: 'x-envoy-fault-abort-request-percentage',
  delay: 'x-envoy-fault-delay-request',
  delayPercent: 'x-envoy-fault-delay-request-percentage',
} as const

interface CompiledRoute {
  readonly name: string
  readonly match: RoutePolicy['match']
  readonly matcher: Matcher
  readonly split: Split | undefined
  readonly fault: FaultPolicy | undefined
}

/** Weighted subsets as cumulative ratios; any positive sum (3:1 = 75:25 = 750:250). */
interface Split {
  readonly subsets: readonly string[]
  readonly cumulative: Float64Array
  readonly total: number
  readonly sticky: HashOn | undefined
}

/** Matches the route, picks the split's subset, injects faults, then calls `next`. */
export function route(options: RouteOptions): Middleware {
  const clock = options.clock ?? systemClock
  const random = options.random ?? Math.random
  const table = routeTable(options.service.routes.map(compileRoute))

  return (next) => {
    // per stack: faults in progress per route, for maxActive
    const activeFaults = new Map<string, number>()

    return function routing(call) {
      const r = table.find(call)
      if (r === undefined) return next(call)
      const routed = copyCall(call)
      routed.route = r.name
      if (r.split !== undefined) routed.subset = pick(r.split, call, random)
      if (r.fault === undefined) return next(routed)
      return faulted(routed, r.name, r.fault, next)
    }

    async function faulted(call: Call, name: string, fault: FaultPolicy, next: (call: Call) => Promise<Reply>): Promise<Reply> {
      const { abort, delay } = faultsFor(call.headers, fault)
      const delayHit = delay !== undefined && random() * 100 < delay.percent
      const abortHit = abort !== undefined && random() * 100 < abort.percent
      if (!delayHit && !abortHit) return next(call)
      const active = activeFaults.get(name) ?? 0
      if (active >= fault.maxActive) return next(call)
      activeFaults.set(name, active + 1)
      try {
        if (delayHit) await clock.sleep((delay as { fixed: number }).fixed, signalOf(call))
        if (abortHit) return { status: (abort as { status: number }).status, headers: { 'x-weft-fault': 'abort' }, body: undefined }
      } finally {
        activeFaults.set(name, (activeFaults.get(name) ?? 1) - 1)
      }
      return next(call)
    }
  }
}

function compileRoute(r: RoutePolicy): CompiledRoute {
  let split: Split | undefined
  if (r.split !== undefined && r.split.length > 0) {
    const cumulative = new Float64Array(r.split.length)
    let total = 0
    r.split.forEach((t, i) => {
      total += t.weight
      cumulative[i] = total
    })
    split = { subsets: r.split.map((t) => t.subset), cumulative, total, sticky: r.sticky }
  }
  return { name: r.name, match: r.match, matcher: compileMatches(r.match), split, fault: r.fault }
}

/** The subset for a call: by weight, or by a hash of the sticky key so one user stays on one subset. */
function pick(split: Split, call: Call, random: () => number): string {
  const key = split.sticky === undefined ? undefined : stickyKey(split.sticky, call)
  const x = (key === undefined ? random() : hash32(key) / 0x1_0000_0000) * split.total
  const c = split.cumulative
  for (let i = 0; i < c.length; i++) if (x < (c[i] as number)) return split.subsets[i] as string
  return split.subsets[split.subsets.length - 1] as string
}

function stickyKey(on: HashOn, call: Call): string | undefined {
  if ('header' in on) return headerValue(call.headers, on.header)
  if ('cookie' in on) return cookie(headerValue(call.headers, 'cookie'), on.cookie)
  return call.peer?.identity
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** FNV-1a, 32 bits: a stable spread of sticky keys. */
function hash32(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * The route's faults, overridden by Envoy's fault headers when the route allows them. As in Envoy,
 * a header's percentage is capped by the route's own percentage for that fault (100 when the route
 * configures none), so a caller can ask for less chaos than the route allows, never more.
 */
function faultsFor(headers: Readonly<HeaderMap>, fault: FaultPolicy): Pick<FaultPolicy, 'abort' | 'delay'> {
  if (!fault.headers) return fault
  let { abort, delay } = fault
  const abortStatus = intHeader(headers, FAULT_HEADERS.abort, 200, 599)
  if (abortStatus !== undefined) {
    const cap = abort?.percent ?? 100
    abort = { status: abortStatus, percent: Math.min(cap, intHeader(headers, FAULT_HEADERS.abortPercent, 0, 100) ?? cap) }
  }
  const delayMs = intHeader(headers, FAULT_HEADERS.delay, 0, 3_600_000)
  if (delayMs !== undefined) {
    const cap = delay?.percent ?? 100
    delay = { fixed: delayMs, percent: Math.min(cap, intHeader(headers, FAULT_HEADERS.delayPercent, 0, 100) ?? cap) }
  }
  return { abort, delay }
}

/** An integer header within bounds, else `undefined`: a garbage fault header is ignored, never thrown. */
function intHeader(headers: Readonly<HeaderMap>, name: string, min: number, max: number): number | undefined {
  const v = headerValue(headers, name)
  if (v === undefined || !/^[0-9]{1,7}$/.test(v)) return undefined
  const n = Number(v)
  return n >= min && n <= max ? n : undefined
}
