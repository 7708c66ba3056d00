import type { Handler, Reply } from '@weft/core'
import { isWeftError } from '@weft/core'
import { describe, expect, it } from 'vitest'
import { concurrency, createConcurrencyLimit } from '../src/index.js'
import { call } from './support.js'

/** An inner handler whose calls stay in flight until the test lets them go, first in first out. */
function gate() {
  const held: ((r: Reply) => void)[] = []
  let started = 0
  const handler: Handler = () => {
    started++
    return new Promise((resolve) => held.push(resolve))
  }
  return {
    handler,
    started: () => started,
    releaseOne: () => held.shift()?.({ status: 200, headers: {}, body: undefined }),
  }
}

const tick = () => new Promise((r) => setImmediate(r))

describe('concurrency limit', () => {
  it('refuses calls beyond maxInFlight and maxPending with WEFT_OVERLOADED', async () => {
    const inner = gate()
    const handler = concurrency({ maxInFlight: 2, maxPending: 1 })(inner.handler)
    const calls = [handler(call()), handler(call()), handler(call())]
    const err = await handler(call()).catch((e) => e)
    expect(isWeftError(err) && err.code).toBe('WEFT_OVERLOADED')
    expect(err.message).toBe('payments: 2 calls in flight (limit 2) and 1 waiting (limit 1)')
    expect(inner.started()).toBe(2)
    for (let i = 0; i < 3; i++) {
      inner.releaseOne()
      await tick()
    }
    await Promise.all(calls)
  })

  it('runs a waiting call as soon as a slot frees', async () => {
    const inner = gate()
    const limit = createConcurrencyLimit({ maxInFlight: 1, maxPending: 5 })
    const handler = limit.middleware(inner.handler)
    const first = handler(call())
    const second = handler(call())
    await tick()
    expect(limit.snapshot()).toMatchObject({ inFlight: 1, pending: 1 })
    inner.releaseOne()
    await first
    await tick()
    expect(inner.started()).toBe(2)
    inner.releaseOne()
    await second
    expect(limit.snapshot()).toMatchObject({ inFlight: 0, pending: 0 })
  })

  it('a waiting call whose signal aborts leaves the queue without taking a slot', async () => {
    const inner = gate()
    const limit = createConcurrencyLimit({ maxInFlight: 1, maxPending: 5 })
    const handler = limit.middleware(inner.handler)
    const first = handler(call())
    const controller = new AbortController()
    const waiting = handler(call({ signal: controller.signal }))
    controller.abort(new Error('deadline'))
    await expect(waiting).rejects.toThrow('deadline')
    expect(limit.snapshot().pending).toBe(0)
    inner.releaseOne()
    await first
    expect(inner.started()).toBe(1)
    expect(limit.snapshot().inFlight).toBe(0)
  })

  it('frees the slot when the call fails', async () => {
    const failing: Handler = async () => {
      throw new Error('reset')
    }
    const limit = createConcurrencyLimit({ maxInFlight: 1 })
    const handler = limit.middleware(failing)
    for (let i = 0; i < 3; i++) await expect(handler(call())).rejects.toThrow('reset')
    expect(limit.snapshot().inFlight).toBe(0)
  })

  it('without a limit adds nothing: the inner handler is used as it is', () => {
    const inner: Handler = async () => ({ status: 200, headers: {}, body: undefined })
    expect(concurrency()(inner)).toBe(inner)
  })

  it('refuses limits that cannot work', () => {
    for (const bad of [{ maxInFlight: 0 }, { maxInFlight: 1.5 }, { maxPending: -1 }, { maxInFlight: Number.NaN }]) {
      expect(() => concurrency(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'WEFT_INVALID_ARGUMENT' }))
    }
  })
})
