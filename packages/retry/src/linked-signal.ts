/**
 * A signal of one try (or of a call tightened to its route timeout): it follows the call's signal,
 * may fire at a due time on the shared timer queue, and can be aborted on its own (a hedge that
 * lost). Released — timer cancelled, listener removed — when the reply body ends or the try failed.
 */
import type { BodySink, HeaderMap, Reply, ReplyBody, TimerHandle, TimerQueue } from '@weft/core'

export class LinkedSignal implements ReplyBody, BodySink {
  readonly controller = new AbortController()
  readonly #parent: AbortSignal | undefined
  #timer: TimerHandle | undefined
  readonly #reason: (() => unknown) | undefined
  #body: ReplyBody | undefined
  #sink: BodySink | undefined
  #released = false
  /** True once the due time passed (not when the parent aborted or `abort` was called). */
  timedOut = false

  constructor(parent: AbortSignal | undefined, timers?: TimerQueue, at?: number, reason?: () => unknown) {
    this.#parent = parent
    this.#reason = reason
    if (parent?.aborted) {
      this.#released = true
      this.controller.abort(parent.reason)
      return
    }
    // `this` is the listener (handleEvent): no closure per try; removed by release(), or spent when the parent aborts
    parent?.addEventListener('abort', this)
    if (timers !== undefined && at !== undefined) this.#timer = timers.at(at, () => this.#fire())
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** The parent aborted: so does this, with the parent's reason. */
  handleEvent(): void {
    this.#timer?.cancel()
    this.#released = true
    if (!this.controller.signal.aborted) this.controller.abort(this.#parent?.reason)
  }

  /** Aborts this try alone. */
  abort(reason: unknown): void {
    this.release()
    if (!this.controller.signal.aborted) this.controller.abort(reason)
  }

  #fire(): void {
    if (this.#released) return
    this.timedOut = true
    this.abort(this.#reason?.())
  }

  /** Stops the due time but keeps following the parent (a reply was accepted; its body still streams). */
  stopTimer(): void {
    this.#timer?.cancel()
    this.#timer = undefined
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    this.#timer?.cancel()
    this.#parent?.removeEventListener('abort', this)
  }

  /** The reply to hand up: released at once when it has no body, else when its body ends. */
  wrap(reply: Reply): Reply {
    if (reply.body === undefined) {
      this.release()
      return reply
    }
    this.#body = reply.body
    return { ...reply, body: this }
  }

  pipe(sink: BodySink): void {
    this.#sink = sink
    ;(this.#body as ReplyBody).pipe(this)
  }

  resume(): void {
    this.#body?.resume()
  }

  discard(): void {
    this.#body?.discard()
    this.release()
  }

  onData(chunk: Uint8Array): boolean {
    return (this.#sink as BodySink).onData(chunk)
  }

  onEnd(trailers: HeaderMap | undefined): void {
    this.release()
    this.#sink?.onEnd(trailers)
  }

  onError(err: Error): void {
    this.release()
    this.#sink?.onError(err)
  }
}
