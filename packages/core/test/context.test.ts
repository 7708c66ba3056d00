import { describe, expect, it } from 'vitest'
import { currentCall, Deadline, runWithCall } from '../src/index.js'
import { ManualClock } from '../src/testing/index.js'
import { fakeCall } from './helpers.js'

describe('currentCall', () => {
  it('is undefined outside a call', () => {
    expect(currentCall()).toBeUndefined()
  })

  it('follows the call across awaits and timers', async () => {
    const clock = new ManualClock()
    const call = fakeCall({
      direction: 'inbound',
      service: 'checkout',
      deadline: Deadline.after(500, clock),
      trace: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), flags: 1 },
      peer: { identity: 'spiffe://weft.local/ns/default/sa/web' },
    })
    const seen = await runWithCall(call, async () => {
      await new Promise((r) => setTimeout(r, 1))
      return currentCall()
    })
    expect(seen?.service).toBe('checkout')
    expect(seen?.remainingMs()).toBe(500)
    expect(seen?.traceId).toBe('a'.repeat(32))
    expect(seen?.spanId).toBe('b'.repeat(16))
    expect(seen?.peer?.identity).toBe('spiffe://weft.local/ns/default/sa/web')
  })

  it('remainingMs is Infinity with no deadline', () => {
    runWithCall(fakeCall(), () => expect(currentCall()?.remainingMs()).toBe(Number.POSITIVE_INFINITY))
  })
})
