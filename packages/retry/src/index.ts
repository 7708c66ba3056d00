/** Retries under a budget, hedging, idempotency rules and per-try timeouts. */

export type { RetriedReply, RetryFate } from './answers.js'
export type { RetryBudget, RetryBudgetOptions } from './budget.js'
export { createRetryBudget, RETRY_BUDGET_DEFAULTS } from './budget.js'
export type { RetryOptions } from './retry.js'
export { retry } from './retry.js'
export type { NotRetryableReason } from './safety.js'
export type { HedgeOptions } from './settings.js'
export { RETRY_DEFAULTS, retriesConfigured } from './settings.js'
