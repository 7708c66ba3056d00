/** The header names of weft's wire format. */

/** Remaining time budget in integer milliseconds, relative so clocks need not agree. */
export const TIMEOUT_HEADER = 'x-weft-timeout'
/** Attempt number, 1 for the first try. */
export const ATTEMPT_HEADER = 'x-weft-attempt'
/** Marks a POST/PATCH as safe to retry. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'
/** Every header a deadline is read from, ours first. */
export const DEADLINE_HEADERS = [TIMEOUT_HEADER, 'grpc-timeout', 'x-envoy-expected-rq-timeout-ms'] as const
/** W3C trace context and baggage. */
export const TRACE_HEADERS = ['traceparent', 'tracestate', 'baggage'] as const
