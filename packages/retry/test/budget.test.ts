import { ManualClock } from '@weft/core/testing'
import { describe, expect, it } from 'vitest'
import { createRetryBudget } from '../src/index.js'

const withdrawAll = (budget: { tryWithdraw(): boolean }) => {
  let n = 0
  while (budget.tryWithdraw() && n < 1_000_000) n++
  return n
}

describe('retry budget', () => {
  it('a service with no traffic may still retry minPerSecond × window times (the reserve)', () => {
    const budget = createRetryBudget({ ratio: 0.2, minPerSecond: 10, window: '10s', clock: new ManualClock() })

    expect(budget.balance()).toBe(100)
    expect(withdrawAll(budget)).toBe(100)
    expect(budget.balance()).toBe(0)
  })

  it('a deposit stamped with the caller’s own reading of the clock reads it no second time, and counts the same', async () => {
    const clock = new ManualClock()
    let reads = 0
    const monotonic = () => {
      reads++
      return clock.monotonic()
    }
    const counting = Object.assign(Object.create(clock), { monotonic })
    const budget = createRetryBudget({ ratio: 0.5, minPerSecond: 0, window: '10s', clock: counting })
    reads = 0

    for (let i = 0; i < 10; i++) budget.deposit(clock.monotonic())

    expect(reads).toBe(0)
    expect(budget.balance()).toBe(5)
    await clock.advance('11s')
    expect(budget.balance()).toBe(0)
  })

  it('every request earns `ratio` of a retry', () => {
    const budget = createRetryBudget({ ratio: 0.2, minPerSecond: 0, window: '10s', clock: new ManualClock() })

    for (let i = 0; i < 1000; i++) budget.deposit()

    expect(withdrawAll(budget)).toBe(200)
  })

  it('deposits expire after the window', async () => {
    const clock = new ManualClock()
    const budget = createRetryBudget({ ratio: 0.5, minPerSecond: 0, window: '10s', clock })
    for (let i = 0; i < 100; i++) budget.deposit()

    await clock.advance('9s')
    expect(budget.balance()).toBe(50)
    await clock.advance('1s')
    expect(budget.balance()).toBe(0)
  })

  it('withdrawals expire too: the reserve comes back a window later', async () => {
    const clock = new ManualClock()
    const budget = createRetryBudget({ ratio: 0.2, minPerSecond: 1, window: '2s', clock })
    expect(withdrawAll(budget)).toBe(2)

    await clock.advance('2s')

    expect(budget.balance()).toBe(2)
  })

  it('a long idle gap costs no more than one pass over the window', async () => {
    const clock = new ManualClock()
    const budget = createRetryBudget({ ratio: 0.2, minPerSecond: 10, window: '10s', clock })
    withdrawAll(budget)

    await clock.advance('500h')

    expect(budget.balance()).toBe(100)
  })

  it('ratio 0 leaves only the reserve', () => {
    const budget = createRetryBudget({ ratio: 0, minPerSecond: 2, window: '1s', clock: new ManualClock() })
    for (let i = 0; i < 1000; i++) budget.deposit()

    expect(withdrawAll(budget)).toBe(2)
  })

  it.each([
    [{ ratio: -0.1 }, /ratio/],
    [{ ratio: Number.NaN }, /ratio/],
    [{ minPerSecond: -1 }, /minPerSecond/],
    [{ window: '0s' }, /window/],
    [{ window: 'soon' }, /window/],
  ])('rejects %j', (options, message) => {
    expect(() => createRetryBudget(options)).toThrow(message)
  })
})
