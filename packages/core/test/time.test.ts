import { describe, expect, it } from 'vitest'
import { clampTimerMs, createTimerQueue, Deadline, earliest, systemClock } from '../src/index.js'
import { ManualClock } from '../src/testing/index.js'

describe('Deadline', () => {
  it('counts down with the clock and never goes below zero', async () => {
    const clock = new ManualClock()
    const d = Deadline.after(1000, clock)
    expect(d.remainingMs()).toBe(1000)
    await clock.advance('400ms')
    expect(d.remainingMs()).toBe(600)
    expect(d.expired).toBe(false)
    await clock.advance('2s')
    expect(d.remainingMs()).toBe(0)
    expect(d.expired).toBe(true)
  })

  it('min picks the earlier deadline', () => {
    const clock = new ManualClock()
    const a = Deadline.after(100, clock)
    const b = Deadline.after(200, clock)
    expect(a.min(b)).toBe(a)
    expect(b.min(a)).toBe(a)
    expect(a.min(undefined)).toBe(a)
    expect(earliest(undefined, b)).toBe(b)
    expect(earliest(undefined, undefined)).toBeUndefined()
  })
})

describe('ManualClock', () => {
  it('sleep resolves only when the clock is advanced past it', async () => {
    const clock = new ManualClock()
    let woke = false
    const sleeping = clock.sleep(1000).then(() => {
      woke = true
    })
    await clock.advance('999ms')
    expect(woke).toBe(false)
    await clock.advance('1ms')
    await sleeping
    expect(woke).toBe(true)
  })

  it('sleep rejects with the abort reason', async () => {
    const clock = new ManualClock()
    const ac = new AbortController()
    const sleeping = clock.sleep(1000, ac.signal)
    ac.abort(new Error('stop'))
    await expect(sleeping).rejects.toThrow('stop')
    expect(clock.pendingTimers()).toBe(0)
  })
})

describe('delays past what a Node timer can wait', () => {
  const LONGEST = 2 ** 31 - 1

  it('are held to the longest delay setTimeout honours; negative and NaN ones to 0', () => {
    expect(clampTimerMs(99_999_999_999)).toBe(LONGEST)
    expect(clampTimerMs(LONGEST)).toBe(LONGEST)
    expect(clampTimerMs(250)).toBe(250)
    expect(clampTimerMs(-5)).toBe(0)
    expect(clampTimerMs(Number.NaN)).toBe(0)
  })

  it('a system timer 115 days out neither fires at once nor warns', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.name)
    process.on('warning', onWarning)
    let fired = false
    const t = systemClock.setTimer(() => {
      fired = true
    }, 9_999_999_999)
    await new Promise((resolve) => setTimeout(resolve, 5))
    t.cancel()
    process.off('warning', onWarning)
    expect(fired).toBe(false)
    expect(warnings).not.toContain('TimeoutOverflowWarning')
  })

  it('a queued deadline 30 days out fires at 30 days, not when the clamped timer does', async () => {
    const clock = new ManualClock()
    const q = createTimerQueue(clock)
    let fired = false
    q.at(clock.now() + 30 * 86_400_000, () => {
      fired = true
    })
    await clock.advance(LONGEST) // the clamped clock timer fires here
    expect(fired).toBe(false)
    expect(q.size()).toBe(1)
    await clock.advance(30 * 86_400_000 - LONGEST)
    expect(fired).toBe(true)
  })
})

describe('timer queue', () => {
  it('fires timers in due order with one underlying clock timer', async () => {
    const clock = new ManualClock()
    const q = createTimerQueue(clock)
    const fired: number[] = []
    for (const ms of [300, 100, 200]) q.at(clock.now() + ms, () => fired.push(ms))
    expect(clock.pendingTimers()).toBe(1)
    await clock.advance('1s')
    expect(fired).toEqual([100, 200, 300])
    expect(q.size()).toBe(0)
  })

  it('a cancelled timer never fires and does not count', async () => {
    const clock = new ManualClock()
    const q = createTimerQueue(clock)
    let fired = false
    const t = q.at(clock.now() + 50, () => {
      fired = true
    })
    t.cancel()
    t.cancel()
    expect(q.size()).toBe(0)
    await clock.advance('1s')
    expect(fired).toBe(false)
  })

  it('re-arms earlier when a sooner timer arrives', async () => {
    const clock = new ManualClock()
    const q = createTimerQueue(clock)
    const fired: string[] = []
    q.at(clock.now() + 1000, () => fired.push('late'))
    q.at(clock.now() + 10, () => fired.push('soon'))
    await clock.advance('20ms')
    expect(fired).toEqual(['soon'])
    await clock.advance('1s')
    expect(fired).toEqual(['soon', 'late'])
  })

  it('keeps memory bounded when most timers are cancelled', () => {
    const clock = new ManualClock()
    const q = createTimerQueue(clock)
    for (let i = 0; i < 100_000; i++) q.at(clock.now() + 10_000 + i, () => {}).cancel()
    expect(q.size()).toBe(0)
    expect(clock.pendingTimers()).toBeLessThanOrEqual(1)
  })
})
