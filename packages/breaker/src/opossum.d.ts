/** The part of opossum 10's API weft uses (the package ships no types). Kept private: no opossum type is exported. */
declare module 'opossum' {
  import type { EventEmitter } from 'node:events'

  namespace CircuitBreaker {
    interface Options {
      timeout?: number | false
      resetTimeout?: number
      errorThresholdPercentage?: number
      rollingCountTimeout?: number
      rollingCountBuckets?: number
      rollingPercentilesEnabled?: boolean
      enableSnapshots?: boolean
      rotateBucketController?: EventEmitter
      volumeThreshold?: number
      errorFilter?: (err: unknown, ...args: unknown[]) => boolean
      name?: string
    }
    interface Stats {
      failures: number
      successes: number
      rejects: number
      fires: number
    }
  }

  class CircuitBreaker<A extends unknown[] = unknown[], R = unknown> extends EventEmitter {
    constructor(action: (...args: A) => Promise<R>, options?: CircuitBreaker.Options)
    fire(...args: A): Promise<R>
    open(): void
    close(): void
    shutdown(): void
    readonly opened: boolean
    readonly closed: boolean
    readonly halfOpen: boolean
    readonly stats: CircuitBreaker.Stats
  }

  export = CircuitBreaker
}
