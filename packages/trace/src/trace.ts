/**
 * The client trace layer: every outbound call carries W3C trace context — the call's own, the one
 * its caller sent, or the one of the inbound request being served — under a new span id, with
 * `tracestate` and `baggage` passed on. With an OpenTelemetry SDK it also makes a client span per
 * call and a child span per attempt.
 */
import type { Attributes, Context, Span, Tracer, TracerProvider } from '@opentelemetry/api'
import {
  activeCall,
  type Call,
  copyCall,
  errorKind,
  type Middleware,
  type Outcome,
  type Reply,
  type TraceContext,
  weftErrorOf,
} from '@weft/core'
import { errorFate, replyFate } from './fate.js'
import { ids } from './ids.js'
import { createTraceState, otel, ROOT_CONTEXT, SpanKind, SpanStatusCode } from './otel.js'
import { extractContext, injectContext, type Propagator, propagatorBits } from './propagation.js'
import { KNOWN_FLAGS } from './traceparent.js'
import { tracerLookup } from './tracer.js'

export interface TraceOptions {
  /** Makes spans with this provider. Default: the one registered through `@opentelemetry/api`, if any; with none, weft only propagates. */
  tracerProvider?: TracerProvider
  /** Header formats written (and read) besides W3C trace context: `'b3'`, `'b3multi'`. Default `[]`. */
  propagators?: Propagator[]
  /** Whether a trace weft starts itself, with no SDK to decide, is marked sampled. Default `true`. */
  sampleNewTraces?: boolean
}

export const TRACE_DEFAULTS = { propagators: [] as Propagator[], sampleNewTraces: true } as const

/** Trace flags of a trace weft starts: random (`02`, its ids are random), sampled unless told otherwise. */
export function newTraceFlags(sampled: boolean): number {
  return sampled ? 0x03 : 0x02
}

/** What a traced call keeps in its `span` field, for the attempt observer below it. */
interface SpanRecord {
  readonly span: Span
  readonly tracer: Tracer
  /** The client span as a parent, made when the first attempt span needs it. */
  context: Context | undefined
  /** The first try, held until a second one shows the call was retried. */
  first: { call: Call; outcome: Outcome; durationMs: number; end: number } | undefined
  retried: boolean
}

/** The trace context an outbound call continues, or `undefined` to start a new trace. */
function parentOf(call: Call, bits: number): TraceContext | undefined {
  if (call.trace !== undefined) return call.trace
  const h = call.headers
  if (h.traceparent !== undefined || (bits !== 0 && (h.b3 !== undefined || h['x-b3-traceid'] !== undefined))) {
    // the application sent its own context (an instrumentation of its own): continue that one
    const sent = extractContext(h, bits)
    if (sent.parent !== undefined) {
      const p = sent.parent
      return { traceId: p.traceId, spanId: p.parentId, flags: p.flags, traceState: sent.traceState, baggage: sent.baggage }
    }
  }
  return activeCall()?.trace
}

/** Propagates trace context on every outbound call; makes client and attempt spans when an SDK is present. */
export function trace(options: TraceOptions = {}): Middleware {
  const bits = propagatorBits(options.propagators)
  const rootFlags = newTraceFlags(options.sampleNewTraces ?? TRACE_DEFAULTS.sampleNewTraces)
  const tracerNow = tracerLookup(options.tracerProvider)

  return (next) =>
    function traced(call: Call): Promise<Reply> {
      const parent = parentOf(call, bits)
      const own = call.headers.baggage
      const baggage = own !== undefined ? own : parent?.baggage
      const tracer = tracerNow()
      if (tracer === undefined) {
        const traceId = parent === undefined ? ids.traceId() : parent.traceId
        const flags = parent === undefined ? rootFlags : parent.flags & KNOWN_FLAGS
        const spanId = ids.spanId()
        const traceState = parent?.traceState
        const baggageText = typeof baggage === 'string' ? baggage : undefined
        const traced = copyCall(call)
        traced.trace = { traceId, spanId, flags, traceState, baggage: baggageText }
        traced.headers = injectContext(call.headers, traceId, spanId, flags, traceState, baggageText, bits)
        return next(traced)
      }
      return spanned(call, tracer, parent, typeof baggage === 'string' ? baggage : undefined, next, bits)
    }
}

async function spanned(
  call: Call,
  tracer: Tracer,
  parent: TraceContext | undefined,
  baggage: string | undefined,
  next: (call: Call) => Promise<Reply>,
  bits: number,
): Promise<Reply> {
  const parentContext = parent === undefined ? ROOT_CONTEXT : contextOf(parent)
  const span = tracer.startSpan(call.method, { kind: SpanKind.CLIENT, attributes: requestAttributes(call) }, parentContext)
  const sc = span.spanContext()
  // the SDK decides sampling; the random flag stays when the ids are the SDK's own or the caller's were random
  const flags = (sc.traceFlags & 1) | (parent === undefined || parent.flags & 2 ? 2 : 0)
  const traceState = parent?.traceState
  const record: SpanRecord = { span, tracer, context: undefined, first: undefined, retried: false }
  const traced = copyCall(call)
  traced.trace = { traceId: sc.traceId, spanId: sc.spanId, flags, traceState, baggage }
  traced.headers = injectContext(call.headers, sc.traceId, sc.spanId, flags, traceState, baggage, bits)
  traced.span = record
  try {
    const reply = await next(traced)
    span.setAttribute('http.response.status_code', reply.status)
    span.setAttribute('weft.fate', replyFate(reply))
    if (reply.attempts !== undefined && reply.attempts > 1) span.setAttribute('weft.attempts', reply.attempts)
    if (reply.status >= 400) {
      span.setAttribute('error.type', String(reply.status))
      span.setStatus({ code: SpanStatusCode.ERROR })
    }
    span.end()
    return reply
  } catch (err) {
    failed(span, err)
    span.end()
    throw err
  }
}

/** An OpenTelemetry context whose remote parent is `parent`. */
export function contextOf(parent: TraceContext): Context {
  return otel.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.flags & 1,
    isRemote: true,
    traceState: parent.traceState === undefined ? undefined : createTraceState(parent.traceState),
  })
}

/** OTel HTTP semantic-convention attributes of the request, plus weft's own. */
export function requestAttributes(call: Call): Attributes {
  const q = call.path.indexOf('?')
  const colon = call.authority.lastIndexOf(':')
  const attributes: Attributes = {
    'http.request.method': call.method,
    'url.path': q === -1 ? call.path : call.path.slice(0, q),
    'server.address': colon > 0 && !call.authority.endsWith(']') ? call.authority.slice(0, colon) : call.authority,
    'weft.service': call.service,
  }
  if (q !== -1) attributes['url.query'] = call.path.slice(q + 1)
  if (call.route !== undefined) attributes['weft.route'] = call.route
  return attributes
}

/** Marks a span failed by `err`: `error.type` is the weft error code, else the failure kind. */
export function failed(span: Span, err: unknown): void {
  const weft = weftErrorOf(err)
  span.setAttribute('error.type', weft?.code ?? String(errorKind(err)))
  span.setAttribute('weft.fate', errorFate(err))
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) })
}

/**
 * Receives every try from the attempt layer (last before the transport) and, for calls with a span,
 * records a child span per attempt: when it started, how long it took, the endpoint and the outcome.
 * A call that took one try gets no child (its client span says it all): the first try is held until
 * a second one shows up. Calls without a span (no SDK) cost one property read.
 */
export const traceAttempts = {
  attempt(call: Call, outcome: Outcome, durationMs: number): void {
    const record = call.span as SpanRecord | undefined
    if (record === undefined) return
    const end = Date.now()
    if (call.route !== undefined) record.span.setAttribute('weft.route', call.route)
    if (call.endpoint !== undefined) record.span.setAttribute('weft.endpoint', call.endpoint.address)
    if (!record.retried && call.attempt === 1) {
      record.first = { call, outcome, durationMs, end }
      return
    }
    record.retried = true
    const first = record.first
    if (first !== undefined) {
      record.first = undefined
      attemptSpan(record, first.call, first.outcome, first.durationMs, first.end)
    }
    attemptSpan(record, call, outcome, durationMs, end)
  },
}

function attemptSpan(record: SpanRecord, call: Call, outcome: Outcome, durationMs: number, end: number): void {
  const attributes: Attributes = {
    'http.request.method': call.method,
    'weft.attempt': call.attempt,
    'http.request.resend_count': call.attempt - 1,
  }
  if (call.route !== undefined) attributes['weft.route'] = call.route
  const ep = call.endpoint
  if (ep !== undefined) {
    attributes['weft.endpoint'] = ep.address
    attributes['server.address'] = ep.host
    attributes['server.port'] = ep.port
  }
  const span = record.tracer.startSpan(
    `${call.method} attempt ${call.attempt}`,
    { kind: SpanKind.INTERNAL, startTime: end - durationMs, attributes },
    (record.context ??= otel.setSpan(ROOT_CONTEXT, record.span)),
  )
  if (outcome.reply !== undefined) {
    span.setAttribute('http.response.status_code', outcome.reply.status)
    if (outcome.reply.status >= 500) {
      span.setAttribute('error.type', String(outcome.reply.status))
      span.setStatus({ code: SpanStatusCode.ERROR })
    }
  } else {
    const weft = weftErrorOf(outcome.error)
    span.setAttribute('error.type', weft?.code ?? String(errorKind(outcome.error)))
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end(end)
}
