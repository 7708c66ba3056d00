/**
 * Concurrency limits per service (a bulkhead): at most `maxInFlight` calls at once, at most
 * `maxPending` waiting for a slot, the rest refused at once with WEFT_OVERLOADED. A waiting call
 * leaves the queue when its signal aborts (its deadline or its caller), so no timer of its own.
 */
import { type Call, type Handler, type Middleware, type Reply, signalOf, WeftError } from '@weft/core'
import type { ConcurrencyPolicy } from '@weft/policy'

export interface ConcurrencyOptions extends Partial<ConcurrencyPolicy> {}

/** `{ maxInFlight: Infinity, maxPending: 0 }`: no limit until one is set. */
export const CONCURRENCY_DEFAULTS: ConcurrencyPolicy = { maxInFlight: Number.POSITIVE_INFINITY, maxPending: 0 }

export interface ConcurrencyLimit {
  readonly middleware: Middleware
  /** Calls in flight and waiting now. */
  snapshot(): { inFlight: number; pending: number; maxInFlight: number; maxPending: number }
}

/** The limit as a plain middleware; with `maxInFlight: Infinity` it adds nothing to a call. */
export function concurrency(options: ConcurrencyOptions = {}): Middleware {
  return createConcurrencyLimit(options).middleware
}

interface Waiter {
  go: (() => void) | undefined
}

export function createConcurrencyLimit(options: ConcurrencyOptions = {}): ConcurrencyLimit {
  const maxInFlight = options.maxInFlight ?? CONCURRENCY_DEFAULTS.maxInFlight
  const maxPending = options.maxPending ?? CONCURRENCY_DEFAULTS.maxPending
  if (!(maxInFlight >= 1) || !(Number.isInteger(maxInFlight) || maxInFlight === Number.POSITIVE_INFINITY))
    throw new WeftError('WEFT_INVALID_ARGUMENT', `concurrency: maxInFlight must be a whole number of at least 1, got ${maxInFlight}`)
  if (!(maxPending >= 0) || !(Number.isInteger(maxPending) || maxPending === Number.POSITIVE_INFINITY))
    throw new WeftError('WEFT_INVALID_ARGUMENT', `concurrency: maxPending must be a whole number of at least 0, got ${maxPending}`)

  let inFlight = 0
  let pending = 0
  const queue: Waiter[] = []

  function release() {
    inFlight--
    while (queue.length > 0) {
      const w = queue.shift() as Waiter
      if (w.go === undefined) continue // left the queue on abort
      pending--
      inFlight++
      w.go()
      return
    }
  }

  function overloaded(call: Call): WeftError {
    return new WeftError(
      'WEFT_OVERLOADED',
      `${call.service}: ${inFlight} calls in flight (limit ${maxInFlight}) and ${pending} waiting (limit ${maxPending})`,
      {
        details: { service: call.service, inFlight, pending, maxInFlight, maxPending },
      },
    )
  }

  function waitTurn(call: Call): Promise<void> {
    const signal = signalOf(call)
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        go: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      const onAbort = () => {
        w.go = undefined
        pending--
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      pending++
      queue.push(w)
    })
  }

  const middleware: Middleware = (next: Handler) => {
    if (maxInFlight === Number.POSITIVE_INFINITY) return next
    const run = async (call: Call): Promise<Reply> => {
      try {
        return await next(call)
      } finally {
        release()
      }
    }
    return function limiting(call) {
      if (inFlight < maxInFlight) {
        inFlight++
        return run(call)
      }
      if (pending >= maxPending) return Promise.reject(overloaded(call))
      return waitTurn(call).then(() => run(call))
    }
  }

  return { middleware, snapshot: () => ({ inFlight, pending, maxInFlight, maxPending }) }
}
