/** A clock that moves only when a test says so. */
import { type Clock, clampTimerMs, sleepWith, type TimerHandle } from '../clock.js'
import { type Duration, parseDuration } from '../duration.js'

interface Pending extends TimerHandle {
  at: number
  seq: number
  fn: (() => void) | undefined
}

export class ManualClock implements Clock {
  #now: number
  #mono = 0
  #seq = 0
  #timers: Pending[] = []

  /** Starts at `start` epoch milliseconds (default 2026-01-01T00:00:00Z). */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  monotonic(): number {
    return this.#mono
  }

  /** Fires after `ms`, held to what Node's `setTimeout` can wait (about 24.8 days), as `systemClock` does. */
  setTimer(fn: () => void, ms: number): TimerHandle {
    const t: Pending = {
      at: this.#now + clampTimerMs(ms),
      seq: this.#seq++,
      fn,
      cancel() {
        t.fn = undefined
      },
    }
    this.#timers.push(t)
    return t
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal)
  }

  /** Timers not yet fired or cancelled. */
  pendingTimers(): number {
    return this.#timers.filter((t) => t.fn !== undefined).length
  }

  /**
   * Moves time forward, firing due timers in order; between timers it lets promise callbacks and
   * I/O callbacks run, so code awaiting a sleep proceeds as it would in real time.
   */
  async advance(by: Duration): Promise<void> {
    const target = this.#now + parseDuration(by)
    await settle()
    for (;;) {
      const next = this.#nextDue(target)
      if (next === undefined) break
      this.#move(next.at)
      const fn = next.fn
      next.fn = undefined
      fn?.()
      await settle()
    }
    this.#move(target)
    await settle()
  }

  #move(to: number) {
    if (to > this.#now) {
      this.#mono += to - this.#now
      this.#now = to
    }
  }

  #nextDue(limit: number): Pending | undefined {
    this.#timers = this.#timers.filter((t) => t.fn !== undefined)
    let best: Pending | undefined
    for (const t of this.#timers)
      if (t.at <= limit && (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t
    return best
  }
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
