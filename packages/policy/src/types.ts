/**
 * The policy after validation, defaults and merging: what every other package reads. Durations
 * are milliseconds; every optional section of the document is filled in; maps have no prototype.
 * The document's own (input) shape is in `docs/policy.md`.
 */

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE'

/** An outcome worth another try: a status, a status class, or a transport failure kind. */
export type RetryOn = number | '5xx' | 'gateway-error' | 'retriable-4xx' | 'connect-failure' | 'reset' | 'refused-stream' | 'timeout'

export interface RetryBudgetPolicy {
  /** Retries (and hedges) allowed per original request over `window`. Default 0.2. */
  ratio: number
  /** Retries per second always allowed, whatever the ratio. Default 10. */
  minPerSecond: number
  /** Window in ms. Default 10 000. */
  window: number
}

export interface RetryPolicy {
  /** Every try, the first included; 1 means no retry. Default 3. */
  attempts: number
  /** Timeout of each try in ms; `undefined` leaves only the overall timeout. */
  perTryTimeout: number | undefined
  /** Default `['connect-failure', 'reset', 502, 503, 504]`. */
  on: RetryOn[]
  /** Full-jitter backoff in ms. Default `{ base: 25, max: 250 }`. */
  backoff: { base: number; max: number }
  budget: RetryBudgetPolicy
  /** Retry POST/PATCH without an idempotency key. Default false. */
  unsafe: boolean
  /** Request bodies buffered for replay up to this many bytes. Default 65 536. */
  bufferLimit: number
}

export interface HedgePolicy {
  /** A fixed delay in ms before the extra try, or `undefined` when `percentile` is used. */
  delay: number | undefined
  /** Hedge at this latency percentile (e.g. 99) when `delay` is not set. */
  percentile: number | undefined
  /** Tries in all, the first included. Default 2. */
  maxAttempts: number
}

export interface OutlierDetectionPolicy {
  /** Consecutive 5xx (and transport failures) that eject an endpoint. Default 5. */
  consecutive5xx: number
  /** Consecutive 502/503/504 and connect failures that eject. Default 5. */
  consecutiveGatewayErrors: number
  /** Success-rate and return checks run this often (ms). Default 10 000. */
  interval: number
  /** Ejection time in ms, multiplied by the number of ejections. Default 30 000. */
  baseEjectionTime: number
  /** Cap on one ejection in ms. Default 300 000. */
  maxEjectionTime: number
  /** At most floor(n × this / 100) endpoints ejected, but at least one when n ≥ 2. Default 50. */
  maxEjectionPercent: number
  /** Below this percent of healthy endpoints, balance over all of them. Default 50. */
  panicThreshold: number
  /** Optional success-rate ejection (Envoy). */
  successRate: { minimumHosts: number; requestVolume: number; stdevFactor: number } | undefined
  /** Optional failure-percentage ejection (Envoy). */
  failurePercentage: { threshold: number; minimumHosts: number; requestVolume: number } | undefined
}

export interface CircuitBreakerPolicy {
  /** Failure percentage over `window` that opens the breaker. Default 50. */
  failurePercent: number
  /** Calls in the window before it may open. Default 20. */
  minimumRequests: number
  /** Rolling window in ms. Default 10 000. */
  window: number
  /** How long it stays open before half-open probes, ms. Default 30 000. */
  breakDuration: number
  /** Probes let through while half-open. Default 1. */
  halfOpenRequests: number
}

export interface ConcurrencyPolicy {
  /** Calls in flight to the service at once. Default `Infinity`. */
  maxInFlight: number
  /** Calls waiting for a slot; beyond it they fail with WEFT_OVERLOADED. Default 0. */
  maxPending: number
}

/** The connections weft keeps to each endpoint of a service it calls. */
export interface ConnectionPoolPolicy {
  /**
   * Connections open to each endpoint at once; a call that finds them all busy waits for one.
   * Default `Infinity`: as many as calls need (undici's default).
   */
  maxConnections: number
}

/**
 * How a service bounds the deadlines its callers send when it serves them (`x-weft-timeout`,
 * `grpc-timeout`, `x-envoy-expected-rq-timeout-ms`): only the serving process's own entry applies.
 */
export interface InboundTimeoutPolicy {
  /** The longest deadline a caller may set, in ms; longer ones are cut to it. Default 5 minutes. */
  max: number
  /** The shortest honoured, in ms; shorter ones (`0` included) are raised to it. Default 0 (off). */
  min: number
  /** The deadline of a request that sent no valid deadline header, in ms; `undefined` for none. */
  default: number | undefined
}

export type LoadBalancerType = 'round-robin' | 'least-request' | 'ewma' | 'ring-hash' | 'maglev'

export interface LoadBalancerPolicy {
  type: LoadBalancerType
  /** EWMA decay in ms. Default 10 000. */
  decay: number
  /** EWMA starting latency for new endpoints, ms. Default 30. */
  defaultRtt: number
  /** Least-request active-request bias. Default 1. */
  activeRequestBias: number
  /** Slow start for new endpoints in ms; `undefined` turns it off. */
  slowStartWindow: number | undefined
  /** What ring hash / Maglev hash on. */
  hashOn: HashOn | undefined
}

export type HashOn = { header: string } | { cookie: string } | { identity: true }

export interface EndpointPolicy {
  /** `host:port` */
  address: string
  host: string
  port: number
  labels: Record<string, string>
  weight: number
}

export type StringMatch = { exact: string } | { prefix: string } | { regex: string } | { present: boolean }

export interface RouteMatch {
  path: StringMatch | undefined
  /** Upper-case methods; `undefined` matches any. */
  methods: string[] | undefined
  /** Header name (lower case) → matcher; `{ present: false }` means absent. */
  headers: Record<string, StringMatch>
  query: Record<string, StringMatch>
}

export interface SplitTarget {
  subset: string
  weight: number
}

export interface FaultPolicy {
  abort: { status: number; percent: number } | undefined
  delay: { fixed: number; percent: number } | undefined
  /** Concurrent faults at most. Default `Infinity`. */
  maxActive: number
  /** Honour Envoy's `x-envoy-fault-*` request headers. Default false. */
  headers: boolean
}

export interface MirrorPolicy {
  subset: string
  percent: number
}

export interface RoutePolicy {
  /** The route's name (given, or `route-<index>`); the metrics label. */
  name: string
  /** OR of match blocks; empty matches everything. */
  match: RouteMatch[]
  /** Overall timeout in ms for this route (all tries and backoffs). */
  timeout: number | undefined
  retries: RetryPolicy
  hedge: HedgePolicy | undefined
  /** Weighted subsets; `undefined` means every endpoint of the service. */
  split: SplitTarget[] | undefined
  /** Keep a user on one split target by hashing this. */
  sticky: HashOn | undefined
  fault: FaultPolicy | undefined
  mirror: MirrorPolicy | undefined
  /** Per-route hash key for ring hash / Maglev. */
  hashOn: HashOn | undefined
}

export interface AuthorizationRule {
  action: 'ALLOW' | 'DENY' | 'AUDIT'
  /** Principal patterns: exact SPIFFE ID, `prefix*`, `*suffix`, or `*`; `undefined` matches anyone. */
  from: string[] | undefined
  /** Namespaces the caller must be in (from `ns/<ns>/` in its SPIFFE ID). */
  namespaces: string[] | undefined
  to: { paths: string[] | undefined; methods: string[] | undefined }
  when: { headers: Record<string, StringMatch> } | undefined
}

export interface DiscoveryPolicy {
  /** `{ dns: 'payments.internal', type: 'A' | 'AAAA' | 'SRV', port?, resolver? }`, or `{ file: path }`. */
  dns?: { name: string; type: 'A' | 'AAAA' | 'SRV'; port: number | undefined; resolver: string | undefined; refresh: number | undefined }
  file?: { path: string }
}

/** A service with mesh-wide defaults merged in. */
export interface ServicePolicy {
  name: string
  endpoints: EndpointPolicy[]
  discovery: DiscoveryPolicy | undefined
  mtls: MtlsMode
  /** Expected SPIFFE identity (exact or with `*`); `undefined` means the default for the name. */
  identity: string | undefined
  /** Subset name → label selector. */
  subsets: Record<string, Record<string, string>>
  /** In order, first match wins; always ends with a catch-all `default` route. */
  routes: RoutePolicy[]
  authorization: AuthorizationRule[]
  timeout: number | undefined
  retries: RetryPolicy
  loadBalancer: LoadBalancerPolicy
  outlierDetection: OutlierDetectionPolicy | false
  circuitBreaker: CircuitBreakerPolicy | false
  concurrency: ConcurrencyPolicy
  /** The connections to each of its endpoints (outbound). */
  connectionPool: ConnectionPoolPolicy
  /** How the service bounds the deadlines of the calls it serves (inbound). */
  inboundTimeout: InboundTimeoutPolicy
}

/** The fields `defaults` and a service may both set, resolved: what a service the document does not list gets. */
export interface MeshDefaults {
  timeout: number | undefined
  retries: RetryPolicy
  loadBalancer: LoadBalancerPolicy
  outlierDetection: OutlierDetectionPolicy | false
  circuitBreaker: CircuitBreakerPolicy | false
  concurrency: ConcurrencyPolicy
  connectionPool: ConnectionPoolPolicy
  inboundTimeout: InboundTimeoutPolicy
  /** `defaults.mtls` (default PERMISSIVE): the mode of every service that does not set its own. */
  mtls: MtlsMode
}

/** A validated document, every service resolved. */
export interface Policy {
  apiVersion: 'weft.dev/v1'
  /** A content hash of the document, or the version the control plane gave. */
  version: string
  services: Record<string, ServicePolicy>
  /** The document as validated (before defaults), for `/config`. */
  document: unknown
  /** The document's `defaults` merged over the built-in ones; `defaultServicePolicy` builds from it. Absent on hand-made policies. */
  defaults?: MeshDefaults
  /** The file `loadPolicy` read it from, as an absolute path, for `/config`. Absent for text and objects. */
  file?: string
}
