/**
 * The server trace layer: reads W3C trace context (and B3 when enabled) from the request — an
 * invalid header starts a fresh trace, never an error — and puts it on the call, where
 * `currentCall()` and every outbound call made while serving it find it. With an OpenTelemetry
 * SDK it makes a server span per request.
 */
import type { TracerProvider } from '@opentelemetry/api'
import { type Call, copyCall, type Middleware, type Reply, type TraceContext } from '@weft/core'
import { errorFate, replyFate } from './fate.js'
import { ids } from './ids.js'
import { SpanKind, SpanStatusCode } from './otel.js'
import { extractContext, propagatorBits, type RemoteContext } from './propagation.js'
import { contextOf, failed, newTraceFlags, requestAttributes, TRACE_DEFAULTS, type TraceOptions } from './trace.js'
import { KNOWN_FLAGS } from './traceparent.js'
import { tracerLookup } from './tracer.js'

export interface InboundTraceOptions extends TraceOptions {
  /** Makes server spans with this provider. Default: the globally registered one, if any. */
  tracerProvider?: TracerProvider
}

/** Extracts the caller's trace context onto every inbound call; makes a server span when an SDK is present. */
export function inboundTrace(options: InboundTraceOptions = {}): Middleware {
  const bits = propagatorBits(options.propagators)
  const rootFlags = newTraceFlags(options.sampleNewTraces ?? TRACE_DEFAULTS.sampleNewTraces)
  const tracerNow = tracerLookup(options.tracerProvider)

  return (next) =>
    function extracted(call: Call): Promise<Reply> {
      const remote = extractContext(call.headers, bits)
      const tracer = tracerNow()
      if (tracer === undefined) {
        const p = remote.parent
        const traceContext: TraceContext = {
          traceId: p === undefined ? ids.traceId() : p.traceId,
          spanId: ids.spanId(),
          flags: p === undefined ? rootFlags : p.flags & KNOWN_FLAGS,
          traceState: remote.traceState,
          baggage: remote.baggage,
        }
        const traced = copyCall(call)
        traced.trace = traceContext
        return next(traced)
      }
      return serverSpan(call, remote, tracer, next)
    }
}

async function serverSpan(
  call: Call,
  remote: RemoteContext,
  tracer: NonNullable<ReturnType<ReturnType<typeof tracerLookup>>>,
  next: (call: Call) => Promise<Reply>,
): Promise<Reply> {
  const p = remote.parent
  const parentContext =
    p === undefined
      ? undefined
      : contextOf({ traceId: p.traceId, spanId: p.parentId, flags: p.flags, traceState: remote.traceState, baggage: undefined })
  const attributes = requestAttributes(call)
  if (call.peer !== undefined) attributes['weft.peer'] = call.peer.identity
  const span = tracer.startSpan(call.method, { kind: SpanKind.SERVER, attributes }, parentContext)
  const sc = span.spanContext()
  const flags = (sc.traceFlags & 1) | (p === undefined || p.flags & 2 ? 2 : 0)
  const traced = copyCall(call)
  traced.trace = { traceId: sc.traceId, spanId: sc.spanId, flags, traceState: remote.traceState, baggage: remote.baggage }
  try {
    const reply = await next(traced)
    span.setAttribute('http.response.status_code', reply.status)
    span.setAttribute('weft.fate', replyFate(reply))
    if (reply.status >= 500) {
      span.setAttribute('error.type', String(reply.status))
      span.setStatus({ code: SpanStatusCode.ERROR })
    }
    span.end()
    return reply
  } catch (err) {
    failed(span, err)
    span.setAttribute('weft.fate', errorFate(err))
    span.end()
    throw err
  }
}
