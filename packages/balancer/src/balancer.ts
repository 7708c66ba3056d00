/**
 * The balancer layer: picks an endpoint for each try from the call's subset, avoids the endpoints
 * earlier tries failed on, and feeds every outcome back into latency and health.
 */
import {
  type Call,
  type Clock,
  classify,
  type Endpoint,
  type EndpointSource,
  type Handler,
  type Middleware,
  systemClock,
  type TimerQueue,
  WeftError,
} from '@weft/core'
import type { LoadBalancerPolicy, OutlierDetectionPolicy } from '@weft/policy'
import { EndpointState } from './endpoint-state.js'
import { EMPTY_PICKER, type Picker } from './picker.js'
import { roundRobin } from './round-robin.js'

export interface BalancerOptions {
  /** Where the service's endpoints come from; the balancer follows its changes. */
  source: EndpointSource
  /** Which picker and its knobs. Default EWMA power-of-two-choices (`LOAD_BALANCER_DEFAULTS`). */
  loadBalancer?: Partial<LoadBalancerPolicy>
  /** Per-endpoint ejection; `false` turns it off. Default on (`OUTLIER_DETECTION_DEFAULTS`). */
  outlierDetection?: Partial<OutlierDetectionPolicy> | false
  /** Subset name → label selector; `call.subset` names one. Default none. */
  subsets?: Readonly<Record<string, Readonly<Record<string, string>>>>
  /** Clock for latency and ejection times; tests pass a manual clock. Default `systemClock`. */
  clock?: Clock
  /** The mesh's shared timer queue for the outlier-detection interval. Default: one made on `clock`. */
  timers?: TimerQueue
}

export const LOAD_BALANCER_DEFAULTS: LoadBalancerPolicy = {
  type: 'ewma',
  decay: 10_000,
  defaultRtt: 30,
  activeRequestBias: 1,
  slowStartWindow: undefined,
  hashOn: undefined,
}

/** A balancer for one service: its middleware and what operators can see of its endpoints. */
export interface Balancer {
  readonly middleware: Middleware
  /** Per-endpoint state now, as plain data. */
  snapshot(): BalancerSnapshot
  /** Stops following the source and the interval timer. */
  close(): void
}

export interface EndpointSnapshot {
  address: string
  labels: Record<string, string>
  weight: number
  health: 'healthy' | 'ejected' | 'probing'
  inFlight: number
  /** Latency estimate in ms. */
  ewmaMs: number
  requests: number
  failures: number
}

export interface BalancerSnapshot {
  picker: LoadBalancerPolicy['type']
  endpoints: EndpointSnapshot[]
}

/** The balancer as a plain middleware; use `createBalancer` to keep a handle for `snapshot()`. */
export function balancer(options: BalancerOptions): Middleware {
  return createBalancer(options).middleware
}

interface Pool {
  readonly name: string | undefined
  readonly selector: Readonly<Record<string, string>> | undefined
  members: EndpointState[]
  picker: Picker
}

/** Builds a service's balancer once: endpoint state, one pool per subset, the picker of each. */
export function createBalancer(options: BalancerOptions): Balancer {
  const clock = options.clock ?? systemClock
  const lb: LoadBalancerPolicy = { ...LOAD_BALANCER_DEFAULTS, ...options.loadBalancer }
  const states = new Map<string, EndpointState>()
  const all: Pool = { name: undefined, selector: undefined, members: [], picker: EMPTY_PICKER }
  const subsets = new Map<string, Pool>()
  for (const [name, selector] of Object.entries(options.subsets ?? {})) {
    subsets.set(name, { name, selector, members: [], picker: EMPTY_PICKER })
  }

  function rebuild(endpoints: readonly Endpoint[]) {
    const now = clock.monotonic()
    const seen = new Set<string>()
    for (const e of endpoints) {
      seen.add(e.address)
      const s = states.get(e.address)
      if (s === undefined) states.set(e.address, new EndpointState(e, lb.defaultRtt, now))
      else s.endpoint = e
    }
    for (const address of states.keys()) if (!seen.has(address)) states.delete(address)
    all.members = [...states.values()]
    for (const pool of subsets.values()) {
      pool.members = all.members.filter((s) => matches(s.endpoint, pool.selector))
    }
    for (const pool of [all, ...subsets.values()]) pool.picker = roundRobin(pool.members)
  }

  rebuild(options.source.current())
  const unsubscribe = options.source.subscribe(rebuild)

  function noEndpoint(call: Call, pool: Pool | undefined): WeftError {
    const where = call.subset === undefined ? '' : ` in subset ${call.subset}`
    const why = pool === undefined ? `unknown subset ${call.subset}` : pool.members.length === 0 ? 'no endpoints' : 'no healthy endpoints'
    return new WeftError('WEFT_NO_HEALTHY_ENDPOINT', `${call.service}: no endpoint to send to${where} (${why})`, {
      details: { service: call.service, subset: call.subset, endpoints: pool?.members.length ?? 0 },
    })
  }

  const middleware: Middleware = (next: Handler): Handler =>
    async function balancing(call) {
      const pool = call.subset === undefined ? all : subsets.get(call.subset)
      const now = clock.monotonic()
      const picked = pool === undefined ? undefined : choose(pool, call, now)
      if (picked === undefined) throw noEndpoint(call, pool)
      const tried = call.tried.length === 0 ? picked.onlyThis : [...call.tried, picked.address]
      picked.inFlight++
      picked.requests++
      try {
        const reply = await next({ ...call, endpoint: picked.endpoint, tried })
        picked.inFlight--
        if (classify(call, { reply }) !== 'success') picked.failures++
        return reply
      } catch (err) {
        picked.inFlight--
        picked.failures++
        throw err
      }
    }

  return {
    middleware,
    snapshot: () => ({
      picker: lb.type,
      endpoints: all.members.map((s) => ({
        address: s.address,
        labels: { ...s.endpoint.labels },
        weight: s.endpoint.weight,
        health: s.health,
        inFlight: s.inFlight,
        ewmaMs: s.rtt,
        requests: s.requests,
        failures: s.failures,
      })),
    }),
    close: unsubscribe,
  }
}

/** Picks from the pool, and on a retry steers away from the endpoints earlier tries used when another exists. */
function choose(pool: Pool, call: Call, now: number): EndpointState | undefined {
  const first = pool.picker.pick(now, -1)
  if (first === undefined || call.tried.length === 0 || !call.tried.includes(first.address)) return first
  const members = pool.members
  const n = members.length
  const start = Math.floor(Math.random() * n)
  for (let i = 0; i < n; i++) {
    const s = members[(start + i) % n] as EndpointState
    if (!call.tried.includes(s.address)) return s
  }
  return first
}

function matches(endpoint: Endpoint, selector: Readonly<Record<string, string>> | undefined): boolean {
  if (selector === undefined) return true
  for (const key of Object.keys(selector)) if (endpoint.labels[key] !== selector[key]) return false
  return true
}
