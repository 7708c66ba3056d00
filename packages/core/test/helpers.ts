import type { Call, Reply } from '../src/index.js'

export function fakeCall(patch: Partial<Call> = {}): Call {
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
    deadline: undefined,
    attempt: 1,
    route: undefined,
    subset: undefined,
    endpoint: undefined,
    tried: [],
    trace: undefined,
    peer: undefined,
    startedAt: 0,
    ...patch,
  }
}

export function okReply(status = 200): Reply {
  return { status, headers: {}, body: undefined }
}
