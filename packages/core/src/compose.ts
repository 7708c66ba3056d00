/** The one abstraction: a Middleware wraps a Handler; compose puts the first one outermost. */
import type { Call, Reply } from './call.js'

export type Handler = (call: Call) => Promise<Reply>
export type Middleware = (next: Handler) => Handler

/**
 * Composes middleware, the first outermost (as cockatiel's `wrap`; undici's `compose` runs the
 * other way):
 *
 * ```
 *   compose(a, b, c)(h)
 *
 *   call ──▶ a ──▶ b ──▶ c ──▶ h
 *   reply ◀── a ◀── b ◀── c ◀──┘
 * ```
 *
 * A synchronous throw anywhere in the chain becomes a rejection of the returned promise.
 */
export function compose(...layers: Middleware[]): Middleware {
  return (next) => {
    let handler = next
    for (let i = layers.length - 1; i >= 0; i--) handler = (layers[i] as Middleware)(handler)
    return toAsync(handler)
  }
}

/** Makes a synchronous throw from `handler` a rejection. */
export function toAsync(handler: Handler): Handler {
  return (call) => {
    try {
      return handler(call)
    } catch (err) {
      return Promise.reject(err)
    }
  }
}
