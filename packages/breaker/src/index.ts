/** Service-level circuit breaking on opossum, and concurrency limits. */
export type { Breaker, BreakerOptions, BreakerSnapshot, BreakerState } from './breaker.js'
export { BREAKER_DEFAULTS, breaker, createBreaker } from './breaker.js'
export type { ConcurrencyLimit, ConcurrencyOptions } from './concurrency.js'
export { CONCURRENCY_DEFAULTS, concurrency, createConcurrencyLimit } from './concurrency.js'
