/**
 * The last handler of the client stack: sends one try to the endpoint the balancer chose, over an
 * undici Pool kept per endpoint, and hands the reply up as soon as its head arrives; the body
 * streams on to whoever consumes it, with backpressure.
 */
import { isIP } from 'node:net'
import {
  type AbortWatcher,
  abortReason,
  type BodySink,
  type Call,
  type CallScope,
  type Endpoint,
  errorKind,
  type Handler,
  type HeaderMap,
  isAborted,
  isWeftError,
  type Reply,
  type ReplyBody,
  WeftError,
} from '@weft/core'
import { type Dispatcher, Pool } from 'undici'

/** Bytes of a reply body held before its consumer attaches; past it the socket is paused. */
const EARLY_BUFFER_LIMIT = 64 * 1024

/** How many bytes of a discarded reply are drained to keep the connection; past it the socket is closed. */
const DISCARD_DRAIN_LIMIT = 64 * 1024

export interface TransportOptions {
  /** undici Pool options for every endpoint (connections, keep-alive, TLS connector). */
  pool?: Pool.Options
  /** Picks Pool options for an endpoint (the mTLS connector per service); overrides `pool`. */
  poolOptionsFor?: (call: Call, endpoint: Endpoint) => { key: string; options: Pool.Options }
}

/** Pools by endpoint, shared by every stack and policy version of a mesh. */
export class Transport {
  readonly #pools = new Map<string, Pool>()
  readonly #servernames = new Map<string, string>()
  readonly #options: TransportOptions

  constructor(options: TransportOptions = {}) {
    this.#options = options
  }

  /** The terminal handler of every client stack. */
  readonly handler: Handler = (call) => {
    const endpoint = call.endpoint
    if (endpoint === undefined) {
      return Promise.reject(
        new WeftError('WEFT_NO_HEALTHY_ENDPOINT', `no endpoint chosen for ${call.service}`, { details: { service: call.service } }),
      )
    }
    const pool = this.#poolFor(call, endpoint)
    return new Promise<Reply>((resolve, reject) => {
      const attempt = new Attempt(call, endpoint, resolve, reject)
      // the pool's own origin applies; undici reads `servername` though its types do not list it
      const opts: Dispatcher.DispatchOptions & { servername?: string | undefined } = {
        path: call.path,
        method: call.method,
        headers: call.headers as Record<string, string>,
        body: call.body as Dispatcher.DispatchOptions['body'],
        servername: this.#servername(call.authority),
      }
      pool.dispatch(opts, attempt)
    })
  }

  /**
   * The terminal of the egress stack: the call goes to `dispatcher` (the egress agent) at the
   * origin the caller wrote, unchanged.
   */
  egress(dispatcher: Dispatcher): Handler {
    return (call) => {
      const endpoint = call.endpoint as (Endpoint & { origin: string }) | undefined
      if (endpoint === undefined)
        return Promise.reject(new WeftError('WEFT_INVALID_ARGUMENT', `egress call to ${call.service} has no origin`))
      return new Promise<Reply>((resolve, reject) => {
        const attempt = new Attempt(call, endpoint, resolve, reject)
        dispatcher.dispatch(
          {
            origin: endpoint.origin,
            path: call.path,
            method: call.method,
            headers: call.headers as Record<string, string>,
            body: call.body as Dispatcher.DispatchOptions['body'],
          },
          attempt,
        )
      })
    }
  }

  /**
   * The TLS server name undici would derive from the `host` header (the authority without its
   * port; none for an IP address), worked out once per authority instead of once per request.
   */
  #servername(authority: string): string | undefined {
    let name = this.#servernames.get(authority)
    if (name === undefined) {
      const host = authority.startsWith('[') ? authority.slice(1, authority.indexOf(']')) : authority.replace(/:\d*$/, '')
      name = isIP(host) === 0 ? host : ''
      if (this.#servernames.size > 10_000) this.#servernames.clear()
      this.#servernames.set(authority, name)
    }
    // undici reads an empty name as "derive it from the host header", which finds none for an IP
    return name === '' ? undefined : name
  }

  /** The keys of the open pools: an endpoint's address, with the TLS identity and the connection cap when they apply. */
  addresses(): string[] {
    return [...this.#pools.keys()]
  }

  /** Closes every pool, letting in-flight requests finish. */
  async close(): Promise<void> {
    await Promise.all(this.#takeAll().map((p) => p.close()))
  }

  /** Destroys every pool at once (after the drain timeout). */
  async destroy(): Promise<void> {
    await Promise.all(this.#takeAll().map((p) => p.destroy()))
  }

  #takeAll(): Pool[] {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    return pools
  }

  #poolFor(call: Call, endpoint: Endpoint): Pool {
    if (this.#options.poolOptionsFor !== undefined) {
      const { key, options } = this.#options.poolOptionsFor(call, endpoint)
      return this.#pools.get(key) ?? this.#open(key, pool_origin(endpoint, options), options)
    }
    return this.#pools.get(endpoint.address) ?? this.#open(endpoint.address, pool_origin(endpoint), this.#options.pool)
  }

  /**
   * Opens the pool for `key`. It is dropped (and closed) once its last connection has closed with
   * nothing in flight or queued, as undici's Agent drops an origin's pool: endpoints come and go
   * (DNS, a control plane, a rolling deploy), and a pool kept for each one ever called would grow
   * without end. The next call to a dropped endpoint opens a new pool.
   */
  #open(key: string, origin: string, options: Pool.Options | undefined): Pool {
    const pool = new Pool(origin, options)
    const dropIfUnused = () => {
      if (this.#pools.get(key) !== pool) return
      // size: calls queued in the pool, waiting on a connection, or in flight
      const stats = pool.stats
      if (stats.connected > 0 || stats.size > 0) return
      this.#pools.delete(key)
      pool.close().catch(() => {})
    }
    pool.on('disconnect', dropIfUnused).on('connectionError', dropIfUnused)
    this.#pools.set(key, pool)
    return pool
  }
}

function pool_origin(endpoint: Endpoint, options?: Pool.Options): string {
  const scheme = options?.connect !== undefined && typeof options.connect === 'function' ? 'https' : 'http'
  return `${scheme}://${endpoint.address}`
}

/**
 * One try in flight: undici's handler for the request and, once the head arrives, the ReplyBody
 * that streams the rest to a sink.
 */
export class Attempt implements Dispatcher.DispatchHandler, ReplyBody, AbortWatcher {
  #controller: Dispatcher.DispatchController | undefined
  #resolve: ((reply: Reply) => void) | undefined
  #reject: ((err: unknown) => void) | undefined
  #sink: BodySink | undefined
  // chunks that came before the consumer attached: the first in a field (a small body is one
  // chunk, and needs no array), the rest in a list
  #first: Uint8Array | undefined
  #buffered: Uint8Array[] | undefined
  #ended = false
  #trailers: HeaderMap | undefined
  #error: Error | undefined
  #drained = 0
  #bufferedBytes = 0
  /** The head as undici read it off the wire: the header object handed up, its raw form, the status text. */
  #headers: HeaderMap | undefined
  #rawHeaders: Dispatcher.DispatchController['rawHeaders']
  #statusText = ''
  readonly #call: Call
  readonly #endpoint: Endpoint
  readonly #onAbort: (() => void) | undefined
  /** The call's scope, when no layer narrowed its signal: told of this try instead of a listener on a signal. */
  readonly #scope: CallScope | undefined

  constructor(call: Call, endpoint: Endpoint, resolve: (reply: Reply) => void, reject: (err: unknown) => void) {
    this.#call = call
    this.#endpoint = endpoint
    this.#resolve = resolve
    this.#reject = reject
    const signal = call.signal
    if (signal !== undefined) {
      this.#onAbort = () => this.#controller?.abort(signal.reason)
      signal.addEventListener('abort', this.#onAbort, { once: true })
    } else if (call.scope !== undefined) {
      this.#scope = call.scope
      call.scope.watch(this)
    }
  }

  /** The call's scope aborted (its caller, its deadline, the mesh). */
  onCallAbort(reason: unknown): void {
    this.#controller?.abort(reason as Error)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (isAborted(this.#call)) controller.abort(abortReason(this.#call) as Error)
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusText: string,
  ): void {
    this.#headers = headers as HeaderMap
    this.#rawHeaders = controller.rawHeaders
    this.#statusText = statusText
    const resolve = this.#resolve
    this.#resolve = undefined
    this.#reject = undefined
    resolve?.({ status: statusCode, headers: headers as HeaderMap, body: this })
  }

  /** undici's raw head of this try (`[name, value, …]`, Buffers), as fetch and `responseHeaders: 'raw'` read it. */
  get rawHeaders(): Buffer[] | string[] | undefined {
    const raw = this.#rawHeaders
    return Array.isArray(raw) ? raw : undefined
  }

  get statusText(): string {
    return this.#statusText
  }

  /** Whether `headers` are still this try's own, as undici read them (no layer answered or rewrote them). */
  sent(headers: Readonly<HeaderMap>): boolean {
    return headers === this.#headers
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const sink = this.#sink
    if (sink !== undefined) {
      if (!sink.onData(chunk)) controller.pause()
    } else {
      // the head was handed up and the consumer attaches in a moment: keep small bodies flowing
      // (pausing the parser costs a resume per request) and hold the socket only past a bound
      if (this.#first === undefined) this.#first = chunk
      else (this.#buffered ??= []).push(chunk)
      this.#bufferedBytes += chunk.byteLength
      if (this.#bufferedBytes > EARLY_BUFFER_LIMIT) controller.pause()
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    this.#unlisten()
    this.#ended = true
    this.#trailers = trailers as HeaderMap
    this.#sink?.onEnd(this.#trailers)
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#unlisten()
    const reject = this.#reject
    if (reject !== undefined) {
      this.#resolve = undefined
      this.#reject = undefined
      reject(this.#wrap(err))
      return
    }
    const failure = this.#wrap(err) as Error
    this.#error = failure
    this.#sink?.onError(failure)
  }

  pipe(sink: BodySink): void {
    this.#sink = sink
    const first = this.#first
    const buffered = this.#buffered
    this.#first = undefined
    this.#buffered = undefined
    let more = true
    if (first !== undefined) more = sink.onData(first)
    if (buffered !== undefined) for (const chunk of buffered) more = sink.onData(chunk)
    if (this.#error !== undefined) sink.onError(this.#error)
    else if (this.#ended) sink.onEnd(this.#trailers)
    else if (more) this.#controller?.resume()
  }

  resume(): void {
    this.#controller?.resume()
  }

  discard(): void {
    if (this.#ended || this.#error !== undefined) return
    this.pipe({
      onData: (chunk) => {
        this.#drained += chunk.byteLength
        if (this.#drained > DISCARD_DRAIN_LIMIT) this.#controller?.abort(new Error('discarded reply too large to drain'))
        return true
      },
      onEnd: () => {},
      onError: () => {},
    })
  }

  #unlisten() {
    if (this.#onAbort !== undefined) this.#call.signal?.removeEventListener('abort', this.#onAbort)
    this.#scope?.unwatch(this)
  }

  /** The caller's or the deadline's reason as it is; anything else as WEFT_UPSTREAM_FAILURE. */
  #wrap(err: Error): unknown {
    if (isAborted(this.#call)) return abortReason(this.#call)
    // the mTLS connector's own verdicts (WEFT_PEER_IDENTITY_MISMATCH, …) say more than "upstream failure"
    if (isWeftError(err)) return err
    const kind = errorKind(err)
    return new WeftError('WEFT_UPSTREAM_FAILURE', `${this.#call.service}: ${kind} talking to ${this.#endpoint.address}: ${err.message}`, {
      cause: err,
      details: { service: this.#call.service, endpoint: this.#endpoint.address, kind },
    })
  }
}

/** The try whose head `reply` still carries unchanged, for its raw headers and status text; else `undefined`. */
export function wireTry(reply: Reply): Attempt | undefined {
  const body = reply.body
  return body instanceof Attempt && body.sent(reply.headers) ? body : undefined
}
