import { describe, expect, it } from 'vitest'
import { type Call, copyCall, derive, withAttempt } from '../src/index.js'
import { testCall } from '../src/testing/index.js'

/** A call whose every field holds a value of its own, so a field the copy drops or mixes up shows. */
function everyField(): Call {
  const distinct: Record<string, unknown> = {}
  for (const key of Object.keys(testCall())) distinct[key] = { field: key }
  return distinct as unknown as Call
}

describe('copyCall', () => {
  it('copies every field of a call, in the order the mesh creates them', () => {
    const call = everyField()
    const copy = copyCall(call)
    expect(Object.keys(copy)).toEqual(Object.keys(testCall()))
    for (const key of Object.keys(call) as (keyof Call)[]) expect(copy[key], key).toBe(call[key])
  })

  it('leaves the original as it was when the copy changes', () => {
    const call = testCall({ attempt: 1 })
    const copy = copyCall(call)
    copy.attempt = 2
    copy.headers = { 'x-weft-attempt': '2' }
    expect(call.attempt).toBe(1)
    expect(call.headers).toEqual({})
  })

  it('derive and withAttempt change only what they are asked to', () => {
    const call = testCall({ route: 'charge' })
    expect(derive(call, { subset: 'v2' })).toEqual({ ...call, subset: 'v2' })
    expect(withAttempt(call, 3)).toEqual({ ...call, attempt: 3 })
    expect(withAttempt(call, 1)).toBe(call)
  })
})
