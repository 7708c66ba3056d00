/**
 * The owner of an outbound call's lifetime: what aborts the whole call and what timers tied to it
 * are cancelled by when it ends. The dispatcher's exchange is one. It spares every call an
 * AbortController, and every try an abort listener: a real AbortSignal is made only for a layer
 * that asks for one (a backoff sleep, a queue, a per-try timeout, a hedge).
 */
import type { Call } from './call.js'
import type { TimerHandle } from './clock.js'

/** Told when the call it watches is aborted: the transport's try in flight. */
export interface AbortWatcher {
  onCallAbort(reason: unknown): void
}

export interface CallScope {
  readonly aborted: boolean
  /** Why the call was aborted; `undefined` while it was not. */
  readonly reason: unknown
  /** An AbortSignal that aborts with the call, made on first use. */
  readonly signal: AbortSignal
  /** Aborts the whole call, its reply body included, with `reason`. */
  abort(reason: unknown): void
  /** Tells `watcher` when the call aborts (at once when it already has), until `unwatch`. */
  watch(watcher: AbortWatcher): void
  unwatch(watcher: AbortWatcher): void
  /** Cancels `timer` when the call ends, its reply body included (at once when it already has). */
  hold(timer: TimerHandle): void
}

/** A CallScope to build on: the dispatcher's exchange extends it, tests use it as it is. */
export class AbortScope implements CallScope {
  #aborted = false
  #reason: unknown
  #controller: AbortController | undefined
  // one watcher and one timer is the common case: no array until a second comes
  #watcher: AbortWatcher | undefined
  #moreWatchers: AbortWatcher[] | undefined
  #timer: TimerHandle | undefined
  #moreTimers: TimerHandle[] | undefined
  #ended = false

  get aborted(): boolean {
    return this.#aborted
  }

  get reason(): unknown {
    return this.#reason
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  abort(reason?: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason ?? new DOMException('This operation was aborted', 'AbortError')
    this.end()
    const first = this.#watcher
    const more = this.#moreWatchers
    this.#watcher = undefined
    this.#moreWatchers = undefined
    first?.onCallAbort(this.#reason)
    if (more !== undefined) for (const w of more) w.onCallAbort(this.#reason)
    this.#controller?.abort(this.#reason)
  }

  watch(watcher: AbortWatcher): void {
    if (this.#aborted) watcher.onCallAbort(this.#reason)
    else if (this.#watcher === undefined) this.#watcher = watcher
    else (this.#moreWatchers ??= []).push(watcher)
  }

  unwatch(watcher: AbortWatcher): void {
    if (this.#watcher === watcher) {
      this.#watcher = undefined
      return
    }
    const more = this.#moreWatchers
    const i = more === undefined ? -1 : more.indexOf(watcher)
    if (i >= 0) more?.splice(i, 1)
  }

  hold(timer: TimerHandle): void {
    if (this.#ended) timer.cancel()
    else if (this.#timer === undefined) this.#timer = timer
    else (this.#moreTimers ??= []).push(timer)
  }

  /** The call is over (answered, failed or aborted): its timers are cancelled. */
  end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#timer?.cancel()
    this.#timer = undefined
    const more = this.#moreTimers
    this.#moreTimers = undefined
    if (more !== undefined) for (const t of more) t.cancel()
  }
}

/** The signal that aborts `call`: its own, else its scope's (made on first use), else none. */
export function signalOf(call: Call): AbortSignal | undefined {
  return call.signal ?? call.scope?.signal
}

/** Whether `call` was aborted, without making a signal for it. */
export function isAborted(call: Call): boolean {
  return call.signal !== undefined ? call.signal.aborted : call.scope?.aborted === true
}

/** Why `call` was aborted (`undefined` while it was not), without making a signal for it. */
export function abortReason(call: Call): unknown {
  return call.signal !== undefined ? (call.signal.aborted ? call.signal.reason : undefined) : call.scope?.reason
}
