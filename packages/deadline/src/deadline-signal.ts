/**
 * The signal of a call with a deadline: an AbortController that follows the caller's own signal
 * and aborts with `WEFT_DEADLINE_EXCEEDED` when the deadline passes, timed by the mesh's shared
 * timer queue. It is released (timer cancelled, listener removed) when the reply body ends.
 */
import type { BodySink, HeaderMap, Reply, ReplyBody, TimerHandle, TimerQueue } from '@weft/core'
import { WeftError } from '@weft/core'

/** Where a call's budget came from, for the error message. */
export type BudgetSource = 'header' | 'inbound' | 'timeout'

export class DeadlineSignal implements ReplyBody, BodySink {
  readonly controller = new AbortController()
  readonly #parent: AbortSignal | undefined
  readonly #timer: TimerHandle
  readonly #service: string
  readonly #budgetMs: number
  readonly #source: BudgetSource
  #body: ReplyBody | undefined
  #sink: BodySink | undefined
  #released = false
  /** True once the deadline passed (not when the caller's signal aborted). */
  expired = false

  constructor(timers: TimerQueue, at: number, parent: AbortSignal | undefined, service: string, budgetMs: number, source: BudgetSource) {
    this.#parent = parent
    this.#service = service
    this.#budgetMs = budgetMs
    this.#source = source
    // `this` is the listener (handleEvent): no closure per call; removed by release(), or spent when the parent aborts
    parent?.addEventListener('abort', this)
    this.#timer = timers.at(at, () => this.#expire())
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** The caller's signal aborted: so does this one, with the caller's reason. */
  handleEvent(): void {
    this.#timer.cancel()
    this.#released = true
    if (!this.controller.signal.aborted) this.controller.abort(this.#parent?.reason)
  }

  #expire(): void {
    if (this.#released) return
    this.#released = true
    this.expired = true
    this.#parent?.removeEventListener('abort', this)
    this.controller.abort(deadlineExceeded(this.#service, this.#budgetMs, this.#source))
  }

  /** Nothing will use the signal any more: cancel the timer and stop following the caller. */
  release(): void {
    if (this.#released) return
    this.#released = true
    this.#timer.cancel()
    this.#parent?.removeEventListener('abort', this)
  }

  /** The reply of `pending`, wrapped; released at once when the call fails. */
  follow(pending: Promise<Reply>): Promise<Reply> {
    return pending.then(
      (reply) => this.wrap(reply),
      (err) => {
        this.release()
        throw err
      },
    )
  }

  /** The reply to hand up: the same one when it has no body, else one whose body releases this when it ends. */
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

/** The error a call fails with when its budget runs out. */
export function deadlineExceeded(service: string, budgetMs: number, source: BudgetSource): WeftError {
  const from =
    source === 'header'
      ? 'the x-weft-timeout the caller sent'
      : source === 'inbound'
        ? 'the inbound request it serves'
        : 'the service or route timeout'
  const what = budgetMs > 0 ? `exceeded its deadline of ${budgetMs}ms` : 'had no time left'
  return new WeftError('WEFT_DEADLINE_EXCEEDED', `call to ${service} ${what} (set by ${from})`, {
    details: { service, budgetMs, source },
  })
}
