import { describe, expect, it } from 'vitest'
import { createTimerQueue, Deadline, earliest } from '../src/index.js'
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
