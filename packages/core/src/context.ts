/** The current call, carried by AsyncLocalStorage so inbound context reaches outbound calls. */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Call, Peer } from './call.js'
import type { Deadline } from './deadline.js'

const storage = new AsyncLocalStorage<Call>()

/** Runs `fn` with `call` as the current call. */
export function runWithCall<T>(call: Call, fn: () => T): T {
  return storage.run(call, fn)
}

/** The raw current call, for weft's own layers; `undefined` outside a call. */
export function activeCall(): Call | undefined {
  return storage.getStore()
}

/** What a handler sees of the call it is serving. */
export interface CurrentCall {
  readonly service: string
  readonly route: string | undefined
  readonly deadline: Deadline | undefined
  /** Milliseconds left; `Infinity` with no deadline. */
  remainingMs(): number
  /** Fires when the call is aborted or its deadline passes. */
  readonly signal: AbortSignal | undefined
  readonly traceId: string | undefined
  readonly spanId: string | undefined
  readonly peer: Peer | undefined
}

/** The call being served, or `undefined` outside one. */
export function currentCall(): CurrentCall | undefined {
  const call = storage.getStore()
  if (call === undefined) return undefined
  return {
    service: call.service,
    route: call.route,
    deadline: call.deadline,
    remainingMs: () => (call.deadline === undefined ? Number.POSITIVE_INFINITY : call.deadline.remainingMs()),
    signal: call.signal,
    traceId: call.trace?.traceId,
    spanId: call.trace?.spanId,
    peer: call.peer,
  }
}
