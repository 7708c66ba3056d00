/**
 * One shared timer for many deadlines: a min-heap of due times behind a single clock timer.
 * Scheduling is O(log n) and arms a real timer only when the earliest due time moves earlier, so
 * a call pays no `setTimeout` of its own.
 */
import type { Clock, TimerHandle } from './clock.js'

interface Entry extends TimerHandle {
  at: number
  fn: (() => void) | undefined
}

export interface TimerQueue {
  /** Runs `fn` at epoch millisecond `at` (within `resolutionMs` after it). */
  at(at: number, fn: () => void): TimerHandle
  /** Pending (not yet cancelled or fired) timers. */
  size(): number
  /** Cancels everything. */
  close(): void
}

/** A timer queue on `clock`; due times are rounded up to `resolutionMs` (default 1). */
export function createTimerQueue(clock: Clock, resolutionMs = 1): TimerQueue {
  const heap: Entry[] = []
  let live = 0
  let armedAt = Number.POSITIVE_INFINITY
  let armed: TimerHandle | undefined

  const cancelEntry = function (this: Entry) {
    if (this.fn !== undefined) {
      this.fn = undefined
      live--
    }
  }

  function arm() {
    while (heap.length > 0 && (heap[0] as Entry).fn === undefined) pop()
    const first = heap[0]
    if (first === undefined) {
      armed?.cancel()
      armed = undefined
      armedAt = Number.POSITIVE_INFINITY
      return
    }
    if (first.at >= armedAt && armed !== undefined) return
    armed?.cancel()
    armedAt = first.at
    armed = clock.setTimer(fire, first.at - clock.now())
  }

  function fire() {
    armed = undefined
    armedAt = Number.POSITIVE_INFINITY
    const now = clock.now()
    while (heap.length > 0 && (heap[0] as Entry).at <= now) {
      const e = pop()
      const fn = e.fn
      if (fn === undefined) continue
      e.fn = undefined
      live--
      fn()
    }
    arm()
  }

  function push(e: Entry) {
    heap.push(e)
    let i = heap.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if ((heap[p] as Entry).at <= e.at) break
      heap[i] = heap[p] as Entry
      i = p
    }
    heap[i] = e
  }

  function pop(): Entry {
    const top = heap[0] as Entry
    const last = heap.pop() as Entry
    if (heap.length > 0) {
      let i = 0
      const n = heap.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && (heap[r] as Entry).at < (heap[l] as Entry).at ? r : l
        if ((heap[c] as Entry).at >= last.at) break
        heap[i] = heap[c] as Entry
        i = c
      }
      heap[i] = last
    }
    return top
  }

  return {
    at(at, fn) {
      const due = Math.ceil(at / resolutionMs) * resolutionMs
      const e: Entry = { at: due, fn, cancel: cancelEntry }
      live++
      push(e)
      // cancelled entries are dropped lazily; compact when they dominate so memory stays bounded
      if (heap.length > 64 && live < heap.length / 4) {
        const keep = heap.filter((x) => x.fn !== undefined)
        heap.length = 0
        for (const x of keep) push(x)
      }
      if (due < armedAt || armed === undefined) arm()
      return e
    },
    size: () => live,
    close() {
      for (const e of heap) e.fn = undefined
      heap.length = 0
      live = 0
      armed?.cancel()
      armed = undefined
      armedAt = Number.POSITIVE_INFINITY
    },
  }
}
