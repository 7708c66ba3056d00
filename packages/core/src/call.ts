/** The call as the mesh sees it, and the reply. Both are immutable: a layer derives a new one. */
import type { CallScope } from './call-scope.js'
import type { Deadline } from './deadline.js'
import type { Fate } from './fate.js'

export type Direction = 'outbound' | 'inbound'

/** Header names are lower case; values as they came (a repeated header is an array). */
export type HeaderMap = Record<string, string | string[] | undefined>

/** One address a service can be reached at. */
export interface Endpoint {
  /** `host:port`, unique within a service; also the key for per-endpoint state. */
  readonly address: string
  readonly host: string
  readonly port: number
  readonly labels: Readonly<Record<string, string>>
  /** Relative weight for weighted pickers. Default 1. */
  readonly weight: number
}

/** W3C trace context of a call. */
export interface TraceContext {
  /** 32 lower-case hex characters. */
  readonly traceId: string
  /** 16 lower-case hex characters: the span this call belongs to. */
  readonly spanId: string
  /** Trace flags, `1` when sampled. */
  readonly flags: number
  readonly traceState?: string | undefined
  readonly baggage?: string | undefined
}

/** The verified identity of the peer that sent an inbound call. */
export interface Peer {
  /** The SPIFFE ID from the peer's verified certificate. */
  readonly identity: string
}

export interface Call {
  readonly direction: Direction
  /** The target service (outbound) or this process's service (inbound); for egress the host name. */
  readonly service: string
  /** Upper-case HTTP method. */
  readonly method: string
  /** Path and query, as sent. */
  readonly path: string
  /** The authority (`Host`) the caller wrote; upstreams see it unchanged. */
  readonly authority: string
  readonly headers: Readonly<HeaderMap>
  /** The request body as the caller gave it (`null` for none). */
  readonly body: unknown
  /** True when the body can be sent again (none, a string or bytes); false for a one-shot stream. */
  readonly replayable: boolean
  /**
   * Aborts the call: the caller's signal, a deadline, or both. An outbound call from the mesh's
   * dispatcher starts with none and a `scope` instead; a layer that narrows it (a per-try timeout,
   * a hedge) sets one. Read it through `signalOf(call)`, which makes the scope's on first use.
   */
  readonly signal: AbortSignal | undefined
  /** The owner of an outbound call's lifetime (the dispatcher's exchange): aborts it, holds its timers. */
  readonly scope?: CallScope | undefined
  readonly deadline: Deadline | undefined
  /** 1 for the first try. */
  readonly attempt: number
  /** The name of the matched route, once routing ran. */
  readonly route: string | undefined
  /** The subset the route's split chose (a key of the service's `subsets`); `undefined` means all endpoints. */
  readonly subset: string | undefined
  /** The endpoint chosen by the balancer, once it ran. */
  readonly endpoint: Endpoint | undefined
  /** Addresses already tried by earlier attempts of this call; the balancer avoids them when it can. */
  readonly tried: readonly string[]
  readonly trace: TraceContext | undefined
  /** Inbound only: the verified peer, when it presented a certificate. */
  readonly peer: Peer | undefined
  /** Monotonic milliseconds when the call entered the stack. */
  readonly startedAt: number
  /**
   * Outbound: the metrics layer's record of the call, which the attempt layer below retry fills in
   * (the route taken, the tries, when the last one ended). Opaque to every other layer. A named
   * field, not a symbol key: a literal with a computed key goes to the runtime on every call.
   */
  readonly record?: object | undefined
  /**
   * Outbound, with an OpenTelemetry tracer: the trace layer's record of the call's span, which the
   * attempt layer's child spans hang from. Opaque to every other layer.
   */
  readonly span?: object | undefined
  /**
   * Inbound only: the server adapter's own request/response exchange. Opaque to every layer; the
   * innermost server handler uses it to run the application.
   */
  readonly native?: unknown
}

/** A call's fields, writable: what `copyCall` answers, for a layer to change before it hands the copy on. */
export type CallFields = { -readonly [K in keyof Call]: Call[K] }

/** Streams a reply body to whoever consumes it, with backpressure. */
export interface BodySink {
  /** Returns false to ask the source to pause until `resume()`. */
  onData(chunk: Uint8Array): boolean
  onEnd(trailers: HeaderMap | undefined): void
  onError(err: Error): void
}

export interface ReplyBody {
  /** Connects the body to its consumer; call once. Data buffered before this is delivered first. */
  pipe(sink: BodySink): void
  /** Resumes a source paused by `onData` returning false. */
  resume(): void
  /** Throws the body away and frees the connection (a reply that will not be used). */
  discard(): void
}

export interface Reply {
  readonly status: number
  readonly headers: Readonly<HeaderMap>
  /** Streamed to the caller, not buffered; `undefined` when there is none (or on the server side). */
  readonly body: ReplyBody | undefined
  /** How many tries it took (set by the retry layer; 1 when absent). */
  readonly attempts?: number
  /**
   * Set by a layer that hands back a reply it did not judge a success, so metrics can name the
   * fate (`retry_budget`, `not_retryable`); absent means the classifier decides.
   */
  readonly fate?: Fate
}

/**
 * A copy of `call` for a layer to change and hand on; the original stays as it was. One object
 * literal with every field of `Call` (the optional ones too), so every call a stack makes has one
 * hidden class: the property reads of every layer stay monomorphic. A spread (`{ ...call }`) goes
 * through V8's clone builtin instead, about 400 instructions for a call's 22 fields (callgrind).
 * Fields outside `Call` are not copied.
 */
export function copyCall(call: Call): CallFields {
  return {
    direction: call.direction,
    service: call.service,
    method: call.method,
    path: call.path,
    authority: call.authority,
    headers: call.headers,
    body: call.body,
    replayable: call.replayable,
    signal: call.signal,
    scope: call.scope,
    deadline: call.deadline,
    attempt: call.attempt,
    route: call.route,
    subset: call.subset,
    endpoint: call.endpoint,
    tried: call.tried,
    trace: call.trace,
    peer: call.peer,
    startedAt: call.startedAt,
    record: call.record,
    span: call.span,
    native: call.native,
  }
}

/** Derives a call with some fields changed; the original stays as it was. */
export function derive(call: Call, patch: Partial<Call>): Call {
  return Object.assign(copyCall(call), patch)
}

/** A call for the given attempt number. */
export function withAttempt(call: Call, attempt: number): Call {
  if (attempt === call.attempt) return call
  const next = copyCall(call)
  next.attempt = attempt
  return next
}

/** Reads a header as one string (a repeated header joined with `, `, as Node does). */
export function headerValue(headers: Readonly<HeaderMap>, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v.join(', ') : v
}

/** Where a service's endpoints come from (static policy, DNS, a file, a control plane). */
export interface EndpointSource {
  /** The endpoints known now; the same array until they change. */
  current(): readonly Endpoint[]
  /** Calls `listener` with the new list whenever it changes; returns the unsubscribe function. */
  subscribe(listener: (endpoints: readonly Endpoint[]) => void): () => void
  /** Stops watching (timers, file watchers, DNS refresh). */
  close(): void
}
