/**
 * The mesh as an undici Dispatcher: calls to a mesh service run through that service's stack;
 * every other host goes through the egress stack (traced and measured) to the egress agent unchanged.
 */
import { AbortScope, type BodySink, type Call, type CallScope, type Endpoint, type HeaderMap, type Reply } from '@weft/core'
import { type Dispatcher, Dispatcher as UndiciDispatcher } from 'undici'
import { normalizeHeaders, toRawHeaders } from './headers.js'
import { wireTry } from './transport.js'

/** What the dispatcher needs from the mesh: a stack per service host, and one for everything else. */
export interface DispatchTarget {
  /** The service's handler for a host name, or `undefined` for a host that is not a mesh service. */
  handlerFor(host: string): ((call: Call) => Promise<Reply>) | undefined
  /** The egress stack (traced and measured, otherwise unchanged) for hosts that are not mesh services. */
  egressHandler(): (call: Call) => Promise<Reply>
  /** Builds the outbound call for a service host, or for an egress origin when `egress` is given. */
  callFor(host: string, opts: Dispatcher.DispatchOptions, authority: string, scope: CallScope, egress?: EgressEndpoint): Call
  /** Where requests weft cannot read the origin of go, untouched. */
  readonly egress: Dispatcher
  /** Counts calls in flight (bodies included) so close() can drain; throws when the mesh is closed. */
  enter(): void
  leave(): void
}

/** The endpoint of an egress call: the origin as the caller wrote it. */
export interface EgressEndpoint extends Endpoint {
  /** `scheme://host[:port]` */
  readonly origin: string
}

interface ParsedOrigin {
  readonly host: string
  readonly authority: string
  readonly endpoint: EgressEndpoint
}

export class MeshDispatcher extends UndiciDispatcher {
  readonly #target: DispatchTarget
  readonly #origins = new Map<string, ParsedOrigin>()
  // the last origin seen: undici hands each call a freshly built origin string, which a Map must
  // flatten and hash on every lookup; one compare with the last one is about half the cost
  #lastKey = ''
  #last: ParsedOrigin | undefined

  constructor(target: DispatchTarget) {
    super()
    this.#target = target
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = this.#parse(opts.origin)
    if (origin === undefined || opts.upgrade) return this.#target.egress.dispatch(opts, handler)
    const service = this.#target.handlerFor(origin.host)
    const run = service ?? this.#target.egressHandler()

    const exchange = new Exchange(handler, this.#target)
    let refused: unknown
    try {
      this.#target.enter()
      exchange.admitted()
    } catch (err) {
      refused = err
    }
    exchange.start()
    if (refused !== undefined) exchange.fail(refused)
    if (exchange.done) return true
    let call: Call
    try {
      call = this.#target.callFor(origin.host, opts, origin.authority, exchange, service === undefined ? origin.endpoint : undefined)
    } catch (err) {
      exchange.fail(err)
      return true
    }
    run(call).then(
      (reply) => exchange.deliver(reply),
      (err) => exchange.fail(err),
    )
    return true
  }

  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | void {
    // the mesh owns the pools; closing the dispatcher alone does nothing to them
    if (callback !== undefined) {
      queueMicrotask(callback)
      return
    }
    return Promise.resolve()
  }

  override destroy(): Promise<void>
  override destroy(err: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(err: Error | null, callback: () => void): void
  override destroy(a?: unknown, b?: unknown): Promise<void> | void {
    const callback = typeof a === 'function' ? a : typeof b === 'function' ? b : undefined
    if (callback !== undefined) {
      queueMicrotask(callback as () => void)
      return
    }
    return Promise.resolve()
  }

  #parse(origin: Dispatcher.DispatchOptions['origin']): ParsedOrigin | undefined {
    if (origin === undefined) return undefined
    const key = typeof origin === 'string' ? origin : origin.origin
    if (key === this.#lastKey) return this.#last
    let parsed = this.#origins.get(key)
    if (parsed === undefined) {
      let url: URL
      try {
        url = typeof origin === 'string' ? new URL(origin) : origin
      } catch {
        return undefined
      }
      // a port in the URL is ignored for mesh services; the authority keeps it as the caller wrote it
      const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80)
      const endpoint: EgressEndpoint = { address: url.host, host: url.hostname, port, labels: {}, weight: 1, origin: url.origin }
      parsed = { host: url.hostname.toLowerCase(), authority: url.host, endpoint }
      if (this.#origins.size > 10_000) this.#origins.clear()
      this.#origins.set(key, parsed)
    }
    this.#lastKey = key
    this.#last = parsed
    return parsed
  }
}

/**
 * One call between the caller's handler and the stack: it is the controller the caller sees
 * (abort, pause, resume), the call's scope (what aborts it, what its deadline timer is tied to),
 * and it feeds the reply's head and body to the caller's handler.
 */
class Exchange extends AbortScope implements Dispatcher.DispatchController, BodySink {
  readonly #handler: Dispatcher.DispatchHandler
  readonly #target: DispatchTarget
  #reply: Reply | undefined
  #paused = false
  #entered = false
  done = false

  constructor(handler: Dispatcher.DispatchHandler, target: DispatchTarget) {
    super()
    this.#handler = handler
    this.#target = target
  }

  get paused(): boolean {
    return this.#paused
  }

  override get reason(): Error | null {
    return this.aborted ? (super.reason as Error) : null
  }

  /**
   * fetch (and `responseHeaders: 'raw'`) read the head as a raw array: the upstream's own, names
   * cased as sent, when no layer rewrote the head; else one made from the reply's header map.
   */
  get rawHeaders(): Buffer[] | string[] {
    const reply = this.#reply
    if (reply === undefined) return []
    return wireTry(reply)?.rawHeaders ?? toRawHeaders(reply.headers)
  }

  /** The mesh counted this call in flight; it is counted out when the exchange is done. */
  admitted() {
    this.#entered = true
  }

  start() {
    try {
      this.#handler.onRequestStart?.(this, {})
    } catch (err) {
      this.fail(err)
    }
  }

  /** The caller, a deadline or the mesh aborts the call: the try in flight and the reply body with it. */
  override abort(reason?: unknown): void {
    if (this.done) return
    super.abort(reason ?? new DOMException('The operation was aborted.', 'AbortError'))
    this.fail(super.reason)
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#reply?.body?.resume()
  }

  deliver(reply: Reply) {
    if (this.done) {
      reply.body?.discard()
      return
    }
    this.#reply = reply
    const handler = this.#handler
    try {
      handler.onResponseStart?.(this, reply.status, reply.headers as Record<string, string | string[]>, wireTry(reply)?.statusText ?? '')
    } catch (err) {
      reply.body?.discard()
      this.fail(err)
      return
    }
    const body = reply.body
    if (body === undefined) {
      this.#finish()
      handler.onResponseEnd?.(this, {})
      return
    }
    body.pipe(this)
  }

  // The exchange is the reply body's sink: no closures per call.
  onData(chunk: Uint8Array): boolean {
    if (this.done) return true
    this.#handler.onResponseData?.(this, chunk as Buffer)
    return !this.#paused
  }

  onEnd(trailers: HeaderMap | undefined): void {
    if (this.done) return
    this.#finish()
    this.#handler.onResponseEnd?.(this, (trailers ?? {}) as Record<string, string | string[]>)
  }

  onError(err: Error): void {
    this.fail(err)
  }

  fail(err: unknown) {
    if (this.done) return
    this.#finish()
    // whatever of the call still runs (a try, a body) stops with the same error
    super.abort(err)
    this.#handler.onResponseError?.(this, err as Error)
  }

  #finish() {
    this.done = true
    this.end()
    if (this.#entered) {
      this.#entered = false
      this.#target.leave()
    }
  }
}

export { normalizeHeaders }
