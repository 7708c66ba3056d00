/**
 * The client stack, outermost first: compose(a, b)(h) calls a, then b, then h. Built once per
 * service from its policy and swapped whole on a policy update.
 */
import { type Balancer, createBalancer } from '@weft/balancer'
import { type Breaker, concurrency, createBreaker } from '@weft/breaker'
import { type Clock, type EndpointSource, type Layer, layer, type TimerQueue } from '@weft/core'
import { deadline } from '@weft/deadline'
import { type MeshMetrics, metrics, observeAttempts } from '@weft/metrics'
import type { ServicePolicy } from '@weft/policy'
import { createRetryBudget, type RetryBudget, retriesConfigured, retry } from '@weft/retry'
import { type TraceOptions, trace, traceAttempts } from '@weft/trace'
import { mirror, route } from '@weft/traffic'

/** What the whole mesh shares; built once by createMesh. */
export interface MeshContext {
  /** This process's service name. */
  readonly self: string
  readonly clock: Clock
  /** One shared coarse timer for every deadline and breaker of the mesh. */
  readonly timers: TimerQueue
  /** The mesh's metrics (createMesh's `registry`, or weft's own); without it the metrics layers are left out. */
  readonly metrics?: MeshMetrics | undefined
  /** createMesh's `tracerProvider` and propagators; trace context propagates with or without them. */
  readonly tracing?: TraceOptions | undefined
}

/** What one service's stack is built from. */
export interface ServiceContext {
  readonly mesh: MeshContext
  readonly service: ServicePolicy
  /** The service's endpoints (static, DNS, file, control plane), built once per stack. */
  readonly endpoints: EndpointSource
  /** Layers with state (balancer, breaker) leave their handle here: for `mesh.endpoints()`, the exporters, and the next generation. */
  readonly handles: ServiceHandles
  /** The previous policy version's handles, so an update keeps ejections, latency estimates and an open breaker. */
  readonly previous: ServiceHandles | undefined
}

/** The stateful parts of one service's stack. */
export interface ServiceHandles {
  balancer?: Balancer
  breaker?: Breaker
  /** The service's retry budget, with the options it was made from. */
  retryBudget?: { readonly budget: RetryBudget; readonly key: string }
}

// Each concern package fills its own line; a layer whose build returns undefined is left out.
export const clientLayers: readonly Layer<ServiceContext>[] = [
  layer('trace', 'first, so the span covers routing, retries and queueing', (ctx) => trace(ctx.mesh.tracing)),
  layer('metrics', 'outside retry: a request counts once, its attempts apart', (ctx) =>
    ctx.mesh.metrics === undefined ? undefined : metrics({ meter: ctx.mesh.metrics, service: ctx.service.name }),
  ),
  layer('deadline', 'before routing, so an expired call never picks an endpoint', (ctx) =>
    // the loosest route timeout of the service; the retry layer tightens it to the matched route's
    deadline({ service: ctx.service, clock: ctx.mesh.clock, timers: ctx.mesh.timers }),
  ),
  layer('route', 'matches the route; split and fault injection act on it', (ctx) => route({ service: ctx.service, clock: ctx.mesh.clock })),
  layer('retry', 'each try goes back through the breaker and the balancer below', (ctx) => {
    // one try, no timeout, no hedge on any route: nothing to do (the dispatcher stamps x-weft-attempt: 1)
    if (!retriesConfigured(ctx.service)) return undefined
    // the budget outlives a policy update that leaves its options alone: a storm spent before the
    // update stays spent after it, as the breaker's state and the balancer's ejections do
    const options = ctx.service.retries?.budget
    const key = JSON.stringify(options ?? null)
    const kept = ctx.previous?.retryBudget
    const budget = kept !== undefined && kept.key === key ? kept.budget : createRetryBudget({ ...options, clock: ctx.mesh.clock })
    ctx.handles.retryBudget = { budget, key }
    return retry({ service: ctx.service, clock: ctx.mesh.clock, timers: ctx.mesh.timers, budget })
  }),
  layer('concurrency', 'outside the breaker: a call refused for overload says nothing about the upstream', (ctx) =>
    ctx.service.concurrency.maxInFlight === Number.POSITIVE_INFINITY ? undefined : concurrency(ctx.service.concurrency),
  ),
  layer('breaker', 'service-level: sees every try, fails fast without touching the network', (ctx) => {
    if (ctx.service.circuitBreaker === false) return undefined
    const b = createBreaker({
      ...ctx.service.circuitBreaker,
      name: ctx.service.name,
      clock: ctx.mesh.clock,
      timers: ctx.mesh.timers,
      inherit: ctx.previous?.breaker,
    })
    ctx.handles.breaker = b
    return b.middleware
  }),
  layer('mirror', "below retry, concurrency and breaker: a dead mirror never spends the real calls' budget, slots or breaker", (ctx) =>
    mirror({ service: ctx.service, clock: ctx.mesh.clock, timers: ctx.mesh.timers }),
  ),
  layer('balancer', 'picks an endpoint per try; outlier detection sees every outcome', (ctx) => {
    const b = createBalancer({
      source: ctx.endpoints,
      loadBalancer: ctx.service.loadBalancer,
      outlierDetection: ctx.service.outlierDetection,
      subsets: ctx.service.subsets,
      routes: ctx.service.routes,
      clock: ctx.mesh.clock,
      timers: ctx.mesh.timers,
      inherit: ctx.previous?.balancer,
    })
    ctx.handles.balancer = b
    return b.middleware
  }),
  layer('attempts', 'last before the transport: times each try on the wire (actual latency) and traces it as a child span', (ctx) =>
    observeAttempts({ meter: ctx.mesh.metrics, service: ctx.service.name, observers: [traceAttempts] }),
  ),
]
