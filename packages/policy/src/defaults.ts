/** The mesh-wide defaults every unset policy field falls back to, and the limits a document must stay within. */
import type {
  CircuitBreakerPolicy,
  ConcurrencyPolicy,
  ConnectionPoolPolicy,
  InboundTimeoutPolicy,
  LoadBalancerPolicy,
  MtlsMode,
  OutlierDetectionPolicy,
  RetryPolicy,
} from './types.js'

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}

/**
 * Every default of the policy document (durations in milliseconds), the same values as the doc
 * comments in `types.ts` and the tables in `docs/policy.md`, plus the parser's limits.
 */
export const POLICY_DEFAULTS = deepFreeze({
  /** Overall route timeout; none unless the document sets one. */
  timeout: undefined as number | undefined,
  retries: {
    attempts: 3,
    perTryTimeout: undefined,
    on: ['connect-failure', 'reset', 502, 503, 504],
    backoff: { base: 25, max: 250 },
    budget: { ratio: 0.2, minPerSecond: 10, window: 10_000 },
    unsafe: false,
    bufferLimit: 65_536,
  } satisfies RetryPolicy as RetryPolicy,
  loadBalancer: {
    type: 'ewma',
    decay: 10_000,
    defaultRtt: 30,
    activeRequestBias: 1,
    slowStartWindow: undefined,
    hashOn: undefined,
  } satisfies LoadBalancerPolicy as LoadBalancerPolicy,
  outlierDetection: {
    consecutive5xx: 5,
    consecutiveGatewayErrors: 5,
    interval: 10_000,
    baseEjectionTime: 30_000,
    maxEjectionTime: 300_000,
    maxEjectionPercent: 50,
    panicThreshold: 50,
    successRate: undefined,
    failurePercentage: undefined,
  } satisfies OutlierDetectionPolicy as OutlierDetectionPolicy,
  /** Filled in when a document says `successRate: {}` (Envoy's defaults; `stdevFactor` 1.9 is Envoy's 1900). */
  successRate: { minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 },
  /** Filled in when a document says `failurePercentage: {}` (Envoy's defaults). */
  failurePercentage: { threshold: 85, minimumHosts: 5, requestVolume: 50 },
  circuitBreaker: {
    failurePercent: 50,
    minimumRequests: 20,
    window: 10_000,
    breakDuration: 30_000,
    halfOpenRequests: 1,
  } satisfies CircuitBreakerPolicy as CircuitBreakerPolicy,
  concurrency: { maxInFlight: Number.POSITIVE_INFINITY, maxPending: 0 } satisfies ConcurrencyPolicy as ConcurrencyPolicy,
  connectionPool: { maxConnections: Number.POSITIVE_INFINITY } satisfies ConnectionPoolPolicy as ConnectionPoolPolicy,
  /** The same bounds `inboundDeadline` (`@weft/deadline`) has when given none. */
  inboundTimeout: { max: 300_000, min: 0, default: undefined } satisfies InboundTimeoutPolicy as InboundTimeoutPolicy,
  mtls: 'PERMISSIVE' as MtlsMode,
  endpoint: { weight: 1 },
  split: { weight: 1 },
  hedge: { maxAttempts: 2 },
  fault: { maxActive: Number.POSITIVE_INFINITY, headers: false },
  mirror: { percent: 100 },
  authorization: { action: 'ALLOW' as const },
  discovery: { dnsType: 'A' as const },
  /** Parser limits; `maxBytes` and `maxDepth` can be changed per call through ParseOptions. */
  limits: {
    /** Largest document, in bytes of its text (or of its canonical JSON when given as an object). */
    maxBytes: 1_048_576,
    /** Deepest nesting of mappings and lists. */
    maxDepth: 64,
    /** Longest string anywhere, keys included. */
    maxStringLength: 4096,
    /** Longest regex matcher. */
    maxRegexLength: 256,
    /** YAML alias expansions allowed (the `yaml` package's `maxAliasCount`). */
    maxAliasCount: 100,
  },
})
