/**
 * The balancer layer: picks an endpoint for each try from the call's subset, avoids the endpoints
 * earlier tries used, and feeds every outcome back into latency (EWMA, least request) and health
 * (outlier detection). Per service it keeps one pool per subset, each with its healthy list and
 * picker built once per change, so a call never scans the endpoints.
 */
import {
  activeCall,
  type Call,
  type Clock,
  classify,
  copyCall,
  createTimerQueue,
  type Endpoint,
  type EndpointSource,
  errorKind,
  type Handler,
  headerValue,
  type Middleware,
  type OutcomeKind,
  type Reply,
  systemClock,
  type TimerQueue,
  type Verdict,
  WeftError,
  warnAside,
} from '@weft/core'
import type { HashOn, LoadBalancerPolicy, LoadBalancerType, OutlierDetectionPolicy } from '@weft/policy'
import { EndpointState, HotState } from './endpoint-state.js'
import { estimate, ewma, observe } from './ewma.js'
import { hashInto } from './hash.js'
import { leastRequest } from './least-request.js'
import { maglev } from './maglev.js'
import { OUTLIER_DETECTION_DEFAULTS, OutlierDetector } from './outlier-detection.js'
import { EMPTY_PICKER, HASH, NOW, type Picker, pickInput } from './picker.js'
import { randomIndex, randomUnit } from './random.js'
import { ringHash } from './ring-hash.js'
import { weightedRoundRobin } from './weighted-round-robin.js'

export interface BalancerOptions {
  /** Where the service's endpoints come from; the balancer follows its changes. */
  source: EndpointSource
  /** Which picker and its knobs. Default `{ type: 'ewma', decay: 10s, defaultRtt: 30ms, activeRequestBias: 1 }`. */
  loadBalancer?: Partial<LoadBalancerPolicy>
  /** Per-endpoint ejection; `false` turns it off. Default on, with `OUTLIER_DETECTION_DEFAULTS`. */
  outlierDetection?: Partial<OutlierDetectionPolicy> | false
  /** Subset name → label selector; `call.subset` names one. Default none. */
  subsets?: Readonly<Record<string, Readonly<Record<string, string>>>>
  /** Routes whose own `hashOn` overrides the service's for ring hash and Maglev. Default none. */
  routes?: readonly { readonly name: string; readonly hashOn: HashOn | undefined }[]
  /** Clock for latency and ejection times; tests pass a manual clock. Default `systemClock`. */
  clock?: Clock
  /** The mesh's shared timer queue, for the outlier-detection interval. Default: one of its own on `clock`. */
  timers?: TimerQueue
  /**
   * The balancer this one replaces (the same service under the previous policy): endpoints that
   * stay keep their latency estimate, ejection and counts, so a policy update does not forgive an
   * outlier or forget what was learnt. Default none.
   */
  inherit?: Balancer
}

export const LOAD_BALANCER_DEFAULTS: LoadBalancerPolicy = {
  type: 'ewma',
  decay: 10_000,
  defaultRtt: 30,
  activeRequestBias: 1,
  slowStartWindow: undefined,
  hashOn: undefined,
}

/** Slow start never sends less than this share of an endpoint's weight (Envoy's `min_weight_percent`). */
const SLOW_START_MIN_FACTOR = 0.1

/** A balancer for one service: its middleware and what operators can see of its endpoints. */
export interface Balancer {
  readonly middleware: Middleware
  /** The endpoint a call would be sent to now, without sending it (for tools and benchmarks). */
  pick(call: Call): Endpoint | undefined
  /** Per-endpoint state now, as plain data (JSON-serialisable). */
  snapshot(): BalancerSnapshot
  /** Stops following the source and stops the outlier-detection timer. */
  close(): void
  /** @internal What `inherit` copies. */
  readonly [STATES]: () => ReadonlyMap<string, EndpointState>
}

const STATES = Symbol('weft.balancer.states')

export interface EndpointSnapshot {
  address: string
  labels: Record<string, string>
  weight: number
  /** `probing`: back from ejection; its next failure ejects it again, its next success makes it healthy. */
  health: 'healthy' | 'ejected' | 'probing'
  /** When ejected: epoch ms it may return at, and why it was ejected. */
  ejectedUntil?: number
  ejectionReason?: string
  /** Ejections so far (multiplies the next ejection time; decays while healthy). */
  ejections: number
  inFlight: number
  /** Latency estimate in ms (peak EWMA, decayed for idle time). */
  ewmaMs: number
  requests: number
  failures: number
  /** True while the endpoint is ramping up under slow start. */
  slowStart: boolean
  /** Subsets the endpoint belongs to. */
  subsets: string[]
}

export interface PoolSnapshot {
  /** The subset name, or `undefined` for every endpoint of the service. */
  subset: string | undefined
  endpoints: number
  healthy: number
  /** Fewer healthy than the panic threshold: traffic goes to every endpoint, ejected ones included. */
  panic: boolean
}

export interface BalancerSnapshot {
  picker: LoadBalancerType
  outlierDetection: boolean
  endpoints: EndpointSnapshot[]
  pools: PoolSnapshot[]
}

/** The balancer as a plain middleware; use `createBalancer` to keep a handle for `snapshot()`. */
export function balancer(options: BalancerOptions): Middleware {
  return createBalancer(options).middleware
}

interface Pool {
  readonly subset: string | undefined
  readonly selector: Readonly<Record<string, string>> | undefined
  /** Every endpoint the selector matches. */
  members: EndpointState[]
  /** What the picker chooses from: the healthy members, or all of them in panic. */
  active: EndpointState[]
  /** `active[i].endpoint`, side by side, so a pick and a retry check read one compact array. */
  endpoints: Endpoint[]
  panic: boolean
  picker: Picker
}

/** Builds a service's balancer once: endpoint state, one pool per subset, the picker of each. */
export function createBalancer(options: BalancerOptions): Balancer {
  const clock = options.clock ?? systemClock
  const lb: LoadBalancerPolicy = { ...LOAD_BALANCER_DEFAULTS, ...stripUndefined(options.loadBalancer ?? {}) }
  validate(lb)
  const od: OutlierDetectionPolicy | undefined =
    options.outlierDetection === false ? undefined : { ...OUTLIER_DETECTION_DEFAULTS, ...stripUndefined(options.outlierDetection ?? {}) }
  const states = new Map<string, EndpointState>()
  const all = newPool(undefined, undefined)
  const subsets = new Map<string, Pool>()
  for (const [name, selector] of Object.entries(options.subsets ?? {})) subsets.set(name, newPool(name, selector))
  const pools = [all, ...subsets.values()]
  const slowStart = lb.slowStartWindow
  const hashed = lb.type === 'ring-hash' || lb.type === 'maglev'
  const hashOnByRoute = new Map<string, HashOn>()
  for (const r of options.routes ?? []) if (r.hashOn !== undefined) hashOnByRoute.set(r.name, lowerCased(r.hashOn))
  const serviceHashOn = lb.hashOn === undefined ? undefined : lowerCased(lb.hashOn)
  let initial = true
  const input = pickInput()

  const detector =
    od === undefined
      ? undefined
      : new OutlierDetector(
          od,
          clock,
          options.timers ?? createTimerQueue(clock),
          () => all.members,
          (returned) => {
            if (slowStart !== undefined) for (const s of returned) s.slowStartFrom = clock.monotonic()
            refreshActive()
          },
        )

  function buildPicker(list: EndpointState[]): Picker {
    if (list.length === 0) return EMPTY_PICKER
    switch (lb.type) {
      case 'round-robin':
        return weightedRoundRobin(list)
      case 'least-request':
        return leastRequest(list, lb.activeRequestBias)
      case 'ring-hash':
        return ringHash(list, input)
      case 'maglev':
        return maglev(list, input)
      default:
        return ewma(list, lb.decay, input)
    }
  }

  /** Recomputes each pool's active list (health or panic changed) and rebuilds pickers whose list changed. */
  function refreshActive() {
    const threshold = od?.panicThreshold ?? 0
    for (const pool of pools) {
      const healthy = pool.members.filter((s) => s.health !== 'ejected')
      const panic = healthy.length === 0 || healthy.length * 100 < threshold * pool.members.length
      const active = panic ? pool.members : healthy
      pool.panic = panic && pool.members.length > 0 && healthy.length < pool.members.length
      if (!sameList(active, pool.active)) {
        pool.active = active
        pool.endpoints = active.map((s) => s.endpoint)
        pool.picker = buildPicker(active)
      }
    }
  }

  /** The source changed: keep state by address, add and drop endpoints, recompute subsets. */
  function onEndpoints(endpoints: readonly Endpoint[]) {
    const now = clock.monotonic()
    const fresh = new Map<string, Endpoint>()
    for (const e of endpoints) if (!fresh.has(e.address)) fresh.set(e.address, e)
    // a dropped endpoint keeps its numbers in a slot of its own, for the calls still in flight to it
    for (const [address, s] of states) {
      if (fresh.has(address)) continue
      s.moveTo(new HotState(1), 0)
      states.delete(address)
    }
    const hot = new HotState(fresh.size)
    let id = 0
    for (const [address, e] of fresh) {
      const s = states.get(address)
      if (s === undefined) {
        const created = new EndpointState(e, hot, id, lb.defaultRtt, now, lb.decay)
        if (!initial && slowStart !== undefined) created.slowStartFrom = now
        states.set(address, created)
      } else {
        s.endpoint = e
        s.moveTo(hot, id)
      }
      id++
    }
    initial = false
    all.members = [...fresh.keys()].map((a) => states.get(a) as EndpointState)
    for (const pool of subsets.values()) pool.members = all.members.filter((s) => matches(s.endpoint, pool.selector))
    for (const pool of pools) pool.active = [] // force a rebuild: slots, weights or labels may have changed
    refreshActive()
  }

  onEndpoints(options.source.current())
  const inherited = options.inherit?.[STATES]()
  if (inherited !== undefined) {
    for (const [address, s] of states) {
      const old = inherited.get(address)
      if (old !== undefined) inherit(s, old, lb.decay)
    }
    refreshActive()
    detector?.wake()
  }
  const unsubscribe = options.source.subscribe(onEndpoints)
  // a DNS or file source answers a moment after it is built: calls that come first wait for it once
  const firstAnswer = (options.source as { ready?: () => Promise<void> }).ready?.()
  let answered = firstAnswer === undefined
  void firstAnswer?.then(() => {
    answered = true
  })

  /** Sets `input[HASH]`, the ring hash and Maglev key of a call: a header, a cookie or the caller's identity; -1 for none. */
  function hashInput(call: Call): void {
    const on = (call.route === undefined ? undefined : hashOnByRoute.get(call.route)) ?? serviceHashOn
    let key: string | undefined
    if (on === undefined) key = undefined
    else if ('header' in on) key = headerValue(call.headers, on.header)
    else if ('cookie' in on) key = cookieValue(headerValue(call.headers, 'cookie'), on.cookie)
    else key = (activeCall()?.peer ?? call.peer)?.identity
    if (key === undefined) input[HASH] = -1
    else hashInto(input, HASH, key)
  }

  /**
   * Picks from the pool and answers an index into `pool.active` (-1 for none); slow start thins a
   * ramping endpoint's share at monotonic ms `input[NOW]` (the caller sets it when slow start is on:
   * a double passed as an argument may be boxed); a retry steers away from the endpoints earlier
   * tries used.
   */
  function choose(pool: Pool, call: Call): number {
    if (hashed) hashInput(call)
    let k = pool.picker.pick()
    if (k < 0) return -1
    if (slowStart !== undefined && !hashed) {
      const now = input[NOW] as number
      for (let i = 0; i < 4; i++) {
        const s = pool.active[k] as EndpointState
        if (s.slowStartFrom === undefined) break
        const f = slowStartFactor(s, now, slowStart)
        if (f >= 1 || randomUnit() < f) break
        k = pool.picker.pick()
      }
    }
    const tried = call.tried
    if (tried.length === 0) return k
    const endpoints = pool.endpoints
    if (!tried.includes((endpoints[k] as Endpoint).address)) return k
    const n = endpoints.length
    const start = randomIndex(n)
    for (let i = 0; i < n; i++) {
      const c = (start + i) % n
      if (!tried.includes((endpoints[c] as Endpoint).address)) return c
    }
    return k
  }

  function settle(s: EndpointState, started: number, kind: OutcomeKind, verdict: Verdict) {
    s.inFlight--
    s.requests++
    const now = clock.monotonic()
    const failed = verdict !== 'success'
    if (failed) s.failures++
    if (kind !== 'aborted') {
      // a failure counts at least as slow as the estimate, so that fast failures never attract traffic
      const took = now - started
      observe(s, failed ? Math.max(took, 2 * s.rtt, lb.defaultRtt) : took, now, lb.decay)
    }
    detector?.record(s, kind, verdict)
  }

  function noEndpoint(call: Call, pool: Pool | undefined): WeftError {
    const where = call.subset === undefined ? '' : ` in subset ${call.subset}`
    const why = pool === undefined ? `unknown subset ${call.subset}` : 'no endpoints'
    return new WeftError('WEFT_NO_HEALTHY_ENDPOINT', `${call.service}: no endpoint to send to${where} (${why})`, {
      details: { service: call.service, subset: call.subset, endpoints: pool?.members.length ?? 0 },
    })
  }

  const middleware: Middleware = (next: Handler): Handler => {
    /** Sends the call to endpoint `k` of `pool` and records how it went. */
    function send(call: Call, pool: Pool, k: number, started: number): Promise<Reply> {
      const picked = pool.active[k] as EndpointState
      const tried = call.tried.length === 0 ? picked.onlyThis : [...call.tried, picked.address]
      picked.inFlight++
      let pending: Promise<Reply>
      try {
        const sent = copyCall(call)
        sent.endpoint = picked.endpoint
        sent.tried = tried
        pending = next(sent)
      } catch (error) {
        settle(picked, started, errorKind(error), classify(call, { error }))
        return Promise.reject(error)
      }
      // recorded beside the chain, not in it: the layer above gets the try's own promise, one
      // microtask and one promise resolution (with its `then` lookup on the reply) sooner; the
      // outcome is still recorded before that layer sees it, its callbacks being registered later
      pending.then(
        (reply) => settleBeside(picked, started, reply.status, classify(call, { reply })),
        (error: unknown) => settleBeside(picked, started, errorKind(error), classify(call, { error })),
      )
      return pending
    }

    /** `settle` off the call's chain: a throw there must not become an unhandled rejection. */
    function settleBeside(s: EndpointState, started: number, kind: OutcomeKind, verdict: Verdict): void {
      try {
        settle(s, started, kind, verdict)
      } catch (err) {
        warnAside('the balancer failed to record an outcome', err)
      }
    }

    return function balancing(call) {
      const pool = call.subset === undefined ? all : subsets.get(call.subset)
      // a first try started when its call entered the stack, a few µs ago: no clock read (~80 ns here)
      const started = call.attempt === 1 && call.startedAt > 0 ? call.startedAt : clock.monotonic()
      input[NOW] = started
      const k = pool === undefined ? -1 : choose(pool, call)
      if (k >= 0 && pool !== undefined) return send(call, pool, k, started)
      if (pool !== undefined && !answered) {
        // discovery has not answered yet: wait for its first answer, once
        return (firstAnswer as Promise<void>).then(() => {
          input[NOW] = clock.monotonic()
          const again = choose(pool, call)
          if (again < 0) throw noEndpoint(call, pool)
          return send(call, pool, again, started)
        })
      }
      return Promise.reject(noEndpoint(call, pool))
    }
  }

  function snapshot(): BalancerSnapshot {
    const now = clock.monotonic()
    return {
      picker: lb.type,
      outlierDetection: od !== undefined,
      endpoints: all.members.map((s) => {
        const e: EndpointSnapshot = {
          address: s.address,
          labels: { ...s.endpoint.labels },
          weight: s.endpoint.weight,
          health: s.health,
          ejections: s.ejections,
          inFlight: s.inFlight,
          ewmaMs: Math.round(estimate(s, now, lb.decay) * 1000) / 1000,
          requests: s.requests,
          failures: s.failures,
          slowStart: slowStart !== undefined && s.slowStartFrom !== undefined && now - s.slowStartFrom < slowStart,
          subsets: [...subsets.values()].filter((p) => p.members.includes(s)).map((p) => p.subset as string),
        }
        if (s.health === 'ejected') {
          e.ejectedUntil = s.ejectedUntil
          e.ejectionReason = s.ejectionReason
        }
        return e
      }),
      pools: pools.map((p) => ({
        subset: p.subset,
        endpoints: p.members.length,
        healthy: p.members.filter((s) => s.health !== 'ejected').length,
        panic: p.panic,
      })),
    }
  }

  return {
    [STATES]: () => states,
    middleware,
    pick(call) {
      const pool = call.subset === undefined ? all : subsets.get(call.subset)
      if (pool === undefined) return undefined
      // only slow start reads the time (EWMA compares without it): no clock read per pick otherwise
      input[NOW] = clock.monotonic()
      return pool.endpoints[choose(pool, call)]
    },
    snapshot,
    close() {
      unsubscribe()
      detector?.close()
    },
  }
}

/** Copies what was learnt about an endpoint; calls in flight stay counted on the old balancer. */
function inherit(s: EndpointState, old: EndpointState, decay: number) {
  s.setEstimate(old.rtt, old.stamp, decay)
  s.slowStartFrom = old.slowStartFrom
  s.consecutive5xx = old.consecutive5xx
  s.consecutiveGatewayErrors = old.consecutiveGatewayErrors
  s.intervalSuccesses = old.intervalSuccesses
  s.intervalFailures = old.intervalFailures
  s.health = old.health
  s.ejectedUntil = old.ejectedUntil
  s.ejectionReason = old.ejectionReason
  s.ejections = old.ejections
  s.requests = old.requests
  s.failures = old.failures
}

/** Share of its weight a ramping endpoint gets now (linear, Envoy's aggression 1); ends the ramp when done. */
function slowStartFactor(s: EndpointState, now: number, window: number): number {
  const elapsed = now - (s.slowStartFrom as number)
  if (elapsed >= window) {
    s.slowStartFrom = undefined
    return 1
  }
  return Math.max(SLOW_START_MIN_FACTOR, elapsed / window)
}

/** A header name in lower case once, at build, rather than per pick (a new string each time). */
function lowerCased(on: HashOn): HashOn {
  return 'header' in on ? { header: on.header.toLowerCase() } : on
}

function newPool(subset: string | undefined, selector: Readonly<Record<string, string>> | undefined): Pool {
  return { subset, selector, members: [], active: [], endpoints: [], panic: false, picker: EMPTY_PICKER }
}

function matches(endpoint: Endpoint, selector: Readonly<Record<string, string>> | undefined): boolean {
  if (selector === undefined) return true
  for (const key of Object.keys(selector)) if (endpoint.labels[key] !== selector[key]) return false
  return true
}

function sameList(a: readonly EndpointState[], b: readonly EndpointState[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The value of cookie `name` in a `Cookie` header, or `undefined`. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (let start = 0; start < header.length; ) {
    let end = header.indexOf(';', start)
    if (end === -1) end = header.length
    const eq = header.indexOf('=', start)
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) return header.slice(eq + 1, end).trim()
    start = end + 1
  }
  return undefined
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {}
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] !== undefined) out[k] = o[k]
  return out
}

const TYPES: readonly LoadBalancerType[] = ['round-robin', 'least-request', 'ewma', 'ring-hash', 'maglev']

function validate(lb: LoadBalancerPolicy) {
  const bad = (what: string) => new WeftError('WEFT_INVALID_ARGUMENT', `balancer: ${what}`, { details: { loadBalancer: lb } })
  if (!TYPES.includes(lb.type)) throw bad(`unknown loadBalancer type ${JSON.stringify(lb.type)}; expected one of ${TYPES.join(', ')}`)
  if (!(lb.decay > 0)) throw bad(`decay must be a positive number of ms, got ${lb.decay}`)
  if (!(lb.defaultRtt >= 0)) throw bad(`defaultRtt must be at least 0 ms, got ${lb.defaultRtt}`)
  if (!(lb.activeRequestBias >= 0)) throw bad(`activeRequestBias must be at least 0, got ${lb.activeRequestBias}`)
  if (lb.slowStartWindow !== undefined && !(lb.slowStartWindow > 0))
    throw bad(`slowStartWindow must be a positive number of ms, got ${lb.slowStartWindow}`)
}
