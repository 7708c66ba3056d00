import { describe, expect, it } from 'vitest'
import { LatencyTracker } from '../src/latency.js'

describe('latency tracker (hedging at a percentile)', () => {
  it('knows nothing before enough samples', () => {
    const t = new LatencyTracker()
    for (let i = 0; i < 19; i++) t.record(10)

    expect(t.percentile(99)).toBeUndefined()
  })

  it('p99 of mostly-fast tries is just above the fast latency, within a bucket (~9 %)', () => {
    const t = new LatencyTracker()
    for (let i = 0; i < 990; i++) t.record(10)
    for (let i = 0; i < 10; i++) t.record(1000)

    const p99 = t.percentile(99) as number
    expect(p99).toBeGreaterThanOrEqual(10)
    expect(p99).toBeLessThan(11)
    expect(t.percentile(50)).toBe(p99)
  })

  it('p50 follows the middle, p99.9 the tail', () => {
    const t = new LatencyTracker()
    for (let i = 1; i <= 1000; i++) t.record(i)

    expect(t.percentile(50)).toBeGreaterThan(480)
    expect(t.percentile(50)).toBeLessThan(560)
    expect(t.percentile(99.9)).toBeGreaterThan(990)
  })

  it('old samples fade: the percentile moves when latency changes', () => {
    const t = new LatencyTracker()
    for (let i = 0; i < 2000; i++) t.record(5)
    for (let i = 0; i < 20_000; i++) t.record(50)

    expect(t.percentile(50)).toBeGreaterThanOrEqual(50)
  })
})
