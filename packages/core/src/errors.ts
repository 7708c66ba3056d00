/** WeftError, the registry of its stable codes, and helpers to find one behind a wrapper. */

/** Every code weft raises, with the HTTP status a server answers for it and who raises it. */
export const ERROR_CODES = {
  WEFT_DEADLINE_EXCEEDED: {
    status: 504,
    raisedBy: '@weft/deadline, @weft/client',
    meaning: 'the call ran out of time before an answer came back',
  },
  WEFT_CIRCUIT_OPEN: {
    status: 503,
    raisedBy: '@weft/breaker',
    meaning: "the service's circuit breaker is open; the call failed fast without touching the network",
  },
  WEFT_OVERLOADED: {
    status: 503,
    raisedBy: '@weft/breaker, @weft/server',
    meaning: 'a concurrency limit was reached; the call was refused or shed',
  },
  WEFT_NO_HEALTHY_ENDPOINT: {
    status: 503,
    raisedBy: '@weft/balancer, @weft/client',
    meaning: 'the service has no endpoint to send the call to',
  },
  WEFT_RETRY_BUDGET_EXHAUSTED: {
    status: 503,
    raisedBy: '@weft/retry',
    meaning: "a retry was needed but the service's retry budget refused it",
  },
  WEFT_NOT_RETRYABLE: {
    status: 502,
    raisedBy: '@weft/retry',
    meaning: 'the call failed and was not retried because repeating it is not safe',
  },
  WEFT_UPSTREAM_FAILURE: {
    status: 502,
    raisedBy: '@weft/client',
    meaning: 'the transport failed: connection refused, reset or closed before the answer',
  },
  WEFT_POLICY_INVALID: {
    status: 500,
    raisedBy: '@weft/policy, @weft/client',
    meaning: 'a policy document failed validation; the previous policy stays in force',
  },
  WEFT_POLICY_UNAVAILABLE: {
    status: 503,
    raisedBy: '@weft/agent, @weft/client',
    meaning: 'no policy could be had from the control plane or the cache in time',
  },
  WEFT_UNAUTHORIZED: {
    status: 403,
    raisedBy: '@weft/mtls, @weft/server',
    meaning: "the caller's identity is not allowed by the service's authorization rules",
  },
  WEFT_PEER_IDENTITY_MISMATCH: {
    status: 502,
    raisedBy: '@weft/mtls',
    meaning: "the peer's verified SPIFFE identity is not the one expected for the service",
  },
  WEFT_PEER_CERTIFICATE_INVALID: {
    status: 502,
    raisedBy: '@weft/mtls',
    meaning: "the peer's certificate was refused: expired, not yet valid, chained to an untrusted anchor, or not a valid X.509-SVID",
  },
  WEFT_CERTIFICATE_INVALID: {
    status: 500,
    raisedBy: '@weft/mtls',
    meaning: 'a certificate or key failed to load or does not meet the SVID rules',
  },
  WEFT_MESH_CLOSED: { status: 503, raisedBy: '@weft/client', meaning: 'the call started after mesh.close()' },
  WEFT_INVALID_ARGUMENT: { status: 500, raisedBy: 'any package', meaning: 'an option passed in code is invalid (not a policy document)' },
} as const satisfies Record<string, { status: number; raisedBy: string; meaning: string }>

export type WeftErrorCode = keyof typeof ERROR_CODES

export interface WeftErrorOptions {
  cause?: unknown
  /** Facts about the failure, safe to log: service, attempt, field path, … */
  details?: Readonly<Record<string, unknown>>
}

const WEFT_ERROR = Symbol.for('weft.error')

/** An error with a stable `code`; callers switch on the code, never on the message. */
export class WeftError extends Error {
  readonly code: WeftErrorCode
  readonly details: Readonly<Record<string, unknown>>
  /** The HTTP status a weft server answers for this error. */
  readonly status: number

  constructor(code: WeftErrorCode, message: string, options: WeftErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'WeftError'
    this.code = code
    this.details = options.details ?? {}
    this.status = ERROR_CODES[code]?.status ?? 500
  }

  get [WEFT_ERROR](): true {
    return true
  }
}

/** True for a WeftError, also one thrown by another copy of this package. */
export function isWeftError(err: unknown): err is WeftError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[WEFT_ERROR] === true
}

/**
 * Finds the WeftError behind an error: the error itself, or one in its `cause` chain
 * (fetch wraps failures as `TypeError('fetch failed', { cause })`). `undefined` when there is none.
 */
export function weftErrorOf(err: unknown): WeftError | undefined {
  return findCause(err, isWeftError)
}

/** The first of an error and its `cause` chain (16 deep at most) that `test` accepts; `undefined` when none does. */
export function findCause<T>(err: unknown, test: (e: unknown) => e is T): T | undefined
export function findCause(err: unknown, test: (e: unknown) => boolean): unknown
export function findCause(err: unknown, test: (e: unknown) => boolean): unknown {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 16; depth++) {
    if (test(e)) return e
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Reports a failure of work a layer runs beside a call's promise chain (an outcome recorded, an
 * observer told): nothing awaits that work, so a throw there would be an unhandled rejection, and
 * the call itself already has its answer. Emitted as a process warning: `weft: <what>: <message>`.
 */
export function warnAside(what: string, err: unknown): void {
  process.emitWarning(`weft: ${what}: ${err instanceof Error ? err.message : String(err)}`)
}
