/** Time as a dependency: everything that waits or measures takes a Clock, so tests can advance one by hand. */

export interface TimerHandle {
  /** Cancels the timer; harmless after it fired. */
  cancel(): void
}

export interface Clock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number
  /** A monotonic reading in milliseconds with sub-millisecond precision, for measuring durations. */
  monotonic(): number
  /** Runs `fn` once after `ms`. The timer does not keep the process alive. */
  setTimer(fn: () => void, ms: number): TimerHandle
  /** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

/** The real clock. */
export const systemClock: Clock = {
  now: Date.now,
  monotonic: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, clampTimerMs(ms))
    t.unref()
    return { cancel: () => clearTimeout(t) }
  },
  sleep(ms, signal) {
    return sleepWith(systemClock, ms, signal)
  },
}

/** The longest a Node timer can wait; longer values fire at once with a warning. */
const MAX_TIMER_MS = 2_147_483_647

/** Keeps a delay inside what `setTimeout` honours. */
export function clampTimerMs(ms: number): number {
  if (!(ms > 0)) return 0
  return ms > MAX_TIMER_MS ? MAX_TIMER_MS : ms
}

/** `sleep` for any clock, built on its `setTimer`. */
export function sleepWith(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timer.cancel()
      reject(signal?.reason)
    }
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Keeps the process alive until `pending` settles, and answers it. The clock's timers are unref'd
 * (a running mesh must not hold a process open), so work in progress that waits only on them — a
 * retry's backoff, a start-up that polls until it succeeds or times out — would otherwise let the
 * process exit with that work unsettled.
 */
export function holdOpen<T>(pending: Promise<T>): Promise<T> {
  const hold = setInterval(() => {}, 2 ** 31 - 1)
  const release = () => clearInterval(hold)
  pending.then(release, release)
  return pending
}
