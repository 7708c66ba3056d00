/** A complete outbound call for driving one layer in a test; override what the test is about. */
import type { Call } from '../call.js'

export function testCall(patch: Partial<Call> = {}): Call {
  return {
    direction: 'outbound',
    service: 'payments',
    method: 'GET',
    path: '/',
    authority: 'payments',
    headers: {},
    body: null,
    replayable: true,
    signal: undefined,
    scope: undefined,
    deadline: undefined,
    attempt: 1,
    route: undefined,
    subset: undefined,
    endpoint: undefined,
    tried: [],
    trace: undefined,
    peer: undefined,
    startedAt: 0,
    record: undefined,
    span: undefined,
    native: undefined,
    ...patch,
  }
}
