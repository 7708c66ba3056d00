import { describe, expect, it } from 'vitest'
import { createBackoff } from '../src/backoff.js'
import { etagOf, versionOfEtag } from '../src/index.js'

describe('full-jitter backoff', () => {
  it('doubles the ceiling from base up to max, and starts over after reset', () => {
    const b = createBackoff({ base: 100, max: 1000, random: () => 0.999 })
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([99, 199, 399, 799, 999, 999])
    expect(b.failures).toBe(6)
    b.reset()
    expect(b.next()).toBe(99)
  })

  it('waits anywhere from zero to the ceiling', () => {
    const b = createBackoff({ base: 100, max: 1000, random: () => 0 })
    expect([b.next(), b.next()]).toEqual([0, 0])
  })

  it('never overflows after many failures', () => {
    const b = createBackoff({ base: 250, max: 30_000, random: () => 0.5 })
    for (let i = 0; i < 10_000; i++) b.next()
    expect(b.next()).toBe(15_000)
  })
})

describe('ETags', () => {
  it('round-trips a version, strong or weak', () => {
    expect(versionOfEtag(etagOf('4f1c9a'))).toBe('4f1c9a')
    expect(versionOfEtag('W/"4f1c9a"')).toBe('4f1c9a')
  })

  it('rejects what is not an ETag', () => {
    for (const bad of ['4f1c9a', '""', '"a"b"', '"a\u0000"', `"${'x'.repeat(200)}"`, undefined]) expect(versionOfEtag(bad)).toBeUndefined()
  })
})
