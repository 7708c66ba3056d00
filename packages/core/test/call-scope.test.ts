import { describe, expect, it } from 'vitest'
import { AbortScope, abortReason, isAborted, signalOf } from '../src/index.js'
import { testCall } from '../src/testing/index.js'

const watcher = () => {
  const reasons: unknown[] = []
  return { reasons, onCallAbort: (r: unknown) => reasons.push(r) }
}

describe('AbortScope: aborting a call without an AbortController per call', () => {
  it('tells the try in flight why the call was aborted', () => {
    const scope = new AbortScope()
    const w = watcher()
    scope.watch(w)

    scope.abort(new Error('deadline'))

    expect(w.reasons.map((r) => (r as Error).message)).toEqual(['deadline'])
    expect(scope.aborted).toBe(true)
  })

  it('a try that starts after the abort is told at once', () => {
    const scope = new AbortScope()
    scope.abort(new Error('gone'))
    const w = watcher()

    scope.watch(w)

    expect(w.reasons).toHaveLength(1)
  })

  it('a try that ended (unwatched) is not told', () => {
    const scope = new AbortScope()
    const first = watcher()
    const second = watcher()
    scope.watch(first)
    scope.watch(second)
    scope.unwatch(first)

    scope.abort(new Error('x'))

    expect(first.reasons).toHaveLength(0)
    expect(second.reasons).toHaveLength(1)
  })

  it('makes its AbortSignal only when asked, and it follows the scope', () => {
    const scope = new AbortScope()
    const signal = scope.signal
    expect(scope.signal).toBe(signal)
    expect(signal.aborted).toBe(false)

    scope.abort(new Error('late'))

    expect(signal.aborted).toBe(true)
    expect((signal.reason as Error).message).toBe('late')
  })

  it('a signal asked for after the abort is already aborted, with the same reason', () => {
    const scope = new AbortScope()
    const reason = new Error('early')
    scope.abort(reason)

    expect(scope.signal.aborted).toBe(true)
    expect(scope.signal.reason).toBe(reason)
  })

  it('aborting with no reason gives an AbortError, as AbortController does', () => {
    const scope = new AbortScope()
    scope.abort()

    expect((scope.reason as DOMException).name).toBe('AbortError')
  })

  it('cancels the timers it holds when the call ends, and a timer held after that at once', () => {
    const scope = new AbortScope()
    const cancelled: string[] = []
    scope.hold({ cancel: () => cancelled.push('deadline') })
    scope.hold({ cancel: () => cancelled.push('other') })

    scope.end()
    scope.hold({ cancel: () => cancelled.push('late') })

    expect(cancelled).toEqual(['deadline', 'other', 'late'])
  })
})

describe('signalOf, isAborted, abortReason', () => {
  it('a call with a signal of its own is read from that signal', () => {
    const controller = new AbortController()
    const scope = new AbortScope()
    const call = testCall({ signal: controller.signal, scope })
    controller.abort(new Error('own'))

    expect(signalOf(call)).toBe(controller.signal)
    expect(isAborted(call)).toBe(true)
    expect((abortReason(call) as Error).message).toBe('own')
    expect(scope.aborted).toBe(false)
  })

  it('a call with only a scope is read from the scope, without making a signal', () => {
    const scope = new AbortScope()
    const call = testCall({ scope })
    scope.abort(new Error('scope'))

    expect(isAborted(call)).toBe(true)
    expect((abortReason(call) as Error).message).toBe('scope')
  })

  it('a call with neither is never aborted and has no signal', () => {
    const call = testCall()

    expect(signalOf(call)).toBeUndefined()
    expect(isAborted(call)).toBe(false)
    expect(abortReason(call)).toBeUndefined()
  })
})
