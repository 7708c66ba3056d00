/**
 * The server stack, outermost first, around the application's handler. Built once per mesh
 * from the policy of this process's own service and swapped whole on a policy update.
 */

import { concurrency } from '@weft/breaker'
import { type Clock, type Layer, layer, type TimerQueue } from '@weft/core'
import { inboundDeadline } from '@weft/deadline'
import { type MeshMetrics, metrics } from '@weft/metrics'
import { authorization } from '@weft/mtls'
import type { Policy, ServicePolicy } from '@weft/policy'
import { inboundTrace, type TraceOptions } from '@weft/trace'

/** What the inbound stack is built from. */
export interface InboundContext {
  /** This process's service name. */
  readonly self: string
  /** The policy of this process's own service (defaults when the document does not list it). */
  readonly service: ServicePolicy
  readonly policy: Policy
  readonly clock: Clock
  readonly timers: TimerQueue
  /** The mesh's metrics; without it the metrics layer is left out. */
  readonly metrics?: MeshMetrics | undefined
  /** createMesh's `tracerProvider` and propagators; trace context is extracted with or without them. */
  readonly tracing?: TraceOptions | undefined
}

// The adapter (node:http, Express, Fastify) sits outside all of these and turns the request into a Call.
// Each concern package fills its own line; a layer whose build returns undefined is left out.
export const serverLayers: readonly Layer<InboundContext>[] = [
  layer('trace', 'first, so the server span covers everything and the trace id reaches the handler', (ctx) => inboundTrace(ctx.tracing)),
  layer('deadline', 'before any work: a request that arrives expired is answered 504 at once', (ctx) =>
    // invalid deadline headers are counted in @weft/deadline's inboundDeadlineStats
    inboundDeadline({
      maxInboundTimeout: ctx.service.inboundTimeout.max,
      minInboundTimeout: ctx.service.inboundTimeout.min,
      defaultTimeout: ctx.service.inboundTimeout.default,
      clock: ctx.clock,
      timers: ctx.timers,
    }),
  ),
  layer('authorization', 'identity from the verified TLS socket; denied calls never reach metrics as served work', (ctx) =>
    ctx.service.authorization.length === 0 ? undefined : authorization(ctx.service.authorization),
  ),
  layer('metrics', 'counts what the service actually served, with its fate', (ctx) =>
    ctx.metrics === undefined ? undefined : metrics({ meter: ctx.metrics, service: ctx.self, direction: 'inbound' }),
  ),
  layer('concurrency', 'last before the handler: sheds load the handler would otherwise queue', (ctx) =>
    ctx.service.concurrency.maxInFlight === Number.POSITIVE_INFINITY ? undefined : concurrency(ctx.service.concurrency),
  ),
]
