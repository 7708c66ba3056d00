/**
 * One rotation timer per mesh for every breaker's rolling window: opossum otherwise starts a
 * `setInterval` per breaker. Breakers join while they have traffic and leave when idle, so a
 * stack retired by a policy update stops costing anything after one window.
 */
import type { Clock, TimerHandle, TimerQueue } from '@weft/core'

/** A listener returns false to leave. */
type Listener = () => boolean

interface Ticker {
  readonly listeners: Set<Listener>
  handle: TimerHandle | undefined
}

const tickers = new WeakMap<TimerQueue, Map<number, Ticker>>()

/** Calls `listener` every `everyMs` on the shared timer queue until it returns false. */
export function onTick(timers: TimerQueue, clock: Clock, everyMs: number, listener: Listener): void {
  let byPeriod = tickers.get(timers)
  if (byPeriod === undefined) tickers.set(timers, (byPeriod = new Map()))
  let ticker = byPeriod.get(everyMs)
  if (ticker === undefined) byPeriod.set(everyMs, (ticker = { listeners: new Set(), handle: undefined }))
  ticker.listeners.add(listener)
  const t = ticker
  const arm = () => {
    t.handle = timers.at(clock.now() + everyMs, () => {
      t.handle = undefined
      for (const l of t.listeners) if (!l()) t.listeners.delete(l)
      if (t.listeners.size > 0) arm()
    })
  }
  if (t.handle === undefined) arm()
}
