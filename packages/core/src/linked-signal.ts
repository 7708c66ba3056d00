/**
 * A signal that follows a parent signal, may fire at a due time on the shared timer queue, and can
 * be aborted on its own: the signal of a call with a deadline, of one try with a per-try timeout,
 * of a hedge that lost. Released — timer cancelled, listener removed — when the reply body ends or
 * the call failed, so nothing outlives the call.
 */
import type { BodySink, HeaderMap, Reply, ReplyBody } from './call.js'
import type { TimerHandle } from './clock.js'
import type { TimerQueue } from './timer-queue.js'

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

  /** The reply of `pending`, wrapped by `wrap`; released at once when the call fails. */
  follow(pending: Promise<Reply>): Promise<Reply> {
    return pending.then(
      (reply) => this.wrap(reply),
      (err) => {
        this.release()
        throw err
      },
    )
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
