/**
 * Merging, field by field: defaults → service → route, with POLICY_DEFAULTS under everything. Every
 * map it builds has a null prototype and only known keys are copied, so no document can reach
 * Object.prototype through a merge.
 */
import { POLICY_DEFAULTS } from './defaults.js'
import type { RawIssue } from './issues.js'
import type { InheritedDocument, MatchDocument, PolicyDocument, RetriesDocument, RouteDocument, ServiceDocument } from './schema.js'
import type {
  AuthorizationRule,
  CircuitBreakerPolicy,
  ConcurrencyPolicy,
  ConnectionPoolPolicy,
  EndpointPolicy,
  InboundTimeoutPolicy,
  LoadBalancerPolicy,
  MeshDefaults,
  OutlierDetectionPolicy,
  RetryPolicy,
  RouteMatch,
  RoutePolicy,
  ServicePolicy,
  StringMatch,
} from './types.js'

/** A map with no prototype: `map.constructor`, `map.__proto__` and friends are just absent keys. */
export function nullMap<V>(entries?: Iterable<readonly [string, V]>): Record<string, V> {
  const out = Object.create(null) as Record<string, V>
  if (entries !== undefined) for (const [k, v] of entries) out[k] = v
  return out
}

const pick = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value)

function mergeRetries(base: RetryPolicy, over: Partial<RetriesDocument> | undefined): RetryPolicy {
  if (over === undefined) return base
  return {
    attempts: pick(over.attempts, base.attempts),
    perTryTimeout: pick(over.perTryTimeout, base.perTryTimeout),
    on: over.on === undefined ? base.on : [...over.on],
    backoff: { base: pick(over.backoff?.base, base.backoff.base), max: pick(over.backoff?.max, base.backoff.max) },
    budget: {
      ratio: pick(over.budget?.ratio, base.budget.ratio),
      minPerSecond: pick(over.budget?.minPerSecond, base.budget.minPerSecond),
      window: pick(over.budget?.window, base.budget.window),
    },
    unsafe: pick(over.unsafe, base.unsafe),
    bufferLimit: pick(over.bufferLimit, base.bufferLimit),
  }
}

function mergeLoadBalancer(base: LoadBalancerPolicy, over: InheritedDocument['loadBalancer']): LoadBalancerPolicy {
  if (over === undefined) return base
  const o = over as Partial<LoadBalancerPolicy>
  return {
    type: pick(o.type, base.type),
    decay: pick(o.decay, base.decay),
    defaultRtt: pick(o.defaultRtt, base.defaultRtt),
    activeRequestBias: pick(o.activeRequestBias, base.activeRequestBias),
    slowStartWindow: pick(o.slowStartWindow, base.slowStartWindow),
    hashOn: pick(o.hashOn, base.hashOn),
  }
}

function mergeOutlier(base: OutlierDetectionPolicy | false, over: InheritedDocument['outlierDetection']): OutlierDetectionPolicy | false {
  if (over === undefined) return base
  if (over === false) return false
  const b = base === false ? POLICY_DEFAULTS.outlierDetection : base
  const sub = <T extends object>(given: Partial<T> | false | undefined, inherited: T | undefined, fallback: T): T | undefined => {
    if (given === undefined) return inherited
    if (given === false) return undefined
    const under = inherited ?? fallback
    const out = { ...under }
    for (const key of Object.keys(under) as (keyof T)[]) if (given[key] !== undefined) out[key] = given[key] as T[keyof T]
    return out
  }
  return {
    consecutive5xx: pick(over.consecutive5xx, b.consecutive5xx),
    consecutiveGatewayErrors: pick(over.consecutiveGatewayErrors, b.consecutiveGatewayErrors),
    interval: pick(over.interval, b.interval),
    baseEjectionTime: pick(over.baseEjectionTime, b.baseEjectionTime),
    maxEjectionTime: pick(over.maxEjectionTime, b.maxEjectionTime),
    maxEjectionPercent: pick(over.maxEjectionPercent, b.maxEjectionPercent),
    panicThreshold: pick(over.panicThreshold, b.panicThreshold),
    successRate: sub(over.successRate, b.successRate, POLICY_DEFAULTS.successRate),
    failurePercentage: sub(over.failurePercentage, b.failurePercentage, POLICY_DEFAULTS.failurePercentage),
  }
}

function mergeBreaker(base: CircuitBreakerPolicy | false, over: InheritedDocument['circuitBreaker']): CircuitBreakerPolicy | false {
  if (over === undefined) return base
  if (over === false) return false
  const b = base === false ? POLICY_DEFAULTS.circuitBreaker : base
  return {
    failurePercent: pick(over.failurePercent, b.failurePercent),
    minimumRequests: pick(over.minimumRequests, b.minimumRequests),
    window: pick(over.window, b.window),
    breakDuration: pick(over.breakDuration, b.breakDuration),
    halfOpenRequests: pick(over.halfOpenRequests, b.halfOpenRequests),
  }
}

function mergeConcurrency(base: ConcurrencyPolicy, over: InheritedDocument['concurrency']): ConcurrencyPolicy {
  if (over === undefined) return base
  return { maxInFlight: pick(over.maxInFlight, base.maxInFlight), maxPending: pick(over.maxPending, base.maxPending) }
}

function mergeConnectionPool(base: ConnectionPoolPolicy, over: InheritedDocument['connectionPool']): ConnectionPoolPolicy {
  if (over === undefined) return base
  return { maxConnections: pick(over.maxConnections, base.maxConnections) }
}

function mergeInboundTimeout(base: InboundTimeoutPolicy, over: InheritedDocument['inboundTimeout']): InboundTimeoutPolicy {
  if (over === undefined) return base
  return { max: pick(over.max, base.max), min: pick(over.min, base.min), default: pick(over.default, base.default) }
}

/** The fields a level inherits, merged over the level above. */
export function mergeInherited(base: MeshDefaults, over: InheritedDocument | undefined): MeshDefaults {
  if (over === undefined) return base
  return {
    timeout: pick(over.timeout, base.timeout),
    retries: mergeRetries(base.retries, over.retries),
    loadBalancer: mergeLoadBalancer(base.loadBalancer, over.loadBalancer),
    outlierDetection: mergeOutlier(base.outlierDetection, over.outlierDetection),
    circuitBreaker: mergeBreaker(base.circuitBreaker, over.circuitBreaker),
    concurrency: mergeConcurrency(base.concurrency, over.concurrency),
    connectionPool: mergeConnectionPool(base.connectionPool, over.connectionPool),
    inboundTimeout: mergeInboundTimeout(base.inboundTimeout, over.inboundTimeout),
    mtls: pick(over.mtls, base.mtls),
  }
}

/** The built-in defaults as one level. */
export function builtInDefaults(): MeshDefaults {
  return {
    timeout: POLICY_DEFAULTS.timeout,
    retries: POLICY_DEFAULTS.retries,
    loadBalancer: POLICY_DEFAULTS.loadBalancer,
    outlierDetection: POLICY_DEFAULTS.outlierDetection,
    circuitBreaker: POLICY_DEFAULTS.circuitBreaker,
    concurrency: POLICY_DEFAULTS.concurrency,
    connectionPool: POLICY_DEFAULTS.connectionPool,
    inboundTimeout: POLICY_DEFAULTS.inboundTimeout,
    mtls: POLICY_DEFAULTS.mtls,
  }
}

function stringMatches(map: Record<string, StringMatch> | undefined, lowerKeys: boolean): Record<string, StringMatch> {
  return nullMap(Object.entries(map ?? {}).map(([k, v]) => [lowerKeys ? k.toLowerCase() : k, { ...v }] as const))
}

function resolveMatch(block: MatchDocument): RouteMatch {
  return {
    path: block.path === undefined ? undefined : { ...block.path },
    methods: block.methods === undefined ? undefined : [...new Set(block.methods.map((m) => m.toUpperCase()))],
    headers: stringMatches(block.headers, true),
    query: stringMatches(block.query, false),
  }
}

function resolveRoute(route: RouteDocument, index: number, service: MeshDefaults): RoutePolicy {
  const match = route.match === undefined ? [] : Array.isArray(route.match) ? route.match : [route.match]
  return {
    name: route.name ?? `route-${index}`,
    match: match.map(resolveMatch),
    timeout: pick(route.timeout, service.timeout),
    retries: mergeRetries(service.retries, route.retries as Partial<RetriesDocument> | undefined),
    hedge:
      route.hedge === undefined
        ? undefined
        : {
            delay: route.hedge.delay,
            percentile: route.hedge.percentile,
            maxAttempts: route.hedge.maxAttempts ?? POLICY_DEFAULTS.hedge.maxAttempts,
          },
    split: route.split?.map((t) => ({ subset: t.subset, weight: t.weight ?? POLICY_DEFAULTS.split.weight })),
    sticky: route.sticky,
    fault:
      route.fault === undefined
        ? undefined
        : {
            abort: route.fault.abort === undefined ? undefined : { ...route.fault.abort },
            delay: route.fault.delay === undefined ? undefined : { fixed: route.fault.delay.fixed, percent: route.fault.delay.percent },
            maxActive: route.fault.maxActive ?? POLICY_DEFAULTS.fault.maxActive,
            headers: route.fault.headers ?? POLICY_DEFAULTS.fault.headers,
          },
    mirror:
      route.mirror === undefined
        ? undefined
        : { subset: route.mirror.subset, percent: route.mirror.percent ?? POLICY_DEFAULTS.mirror.percent },
    hashOn: route.hashOn,
  }
}

/** The catch-all route every route list ends with. */
export function defaultRoute(service: MeshDefaults): RoutePolicy {
  return {
    name: 'default',
    match: [],
    timeout: service.timeout,
    retries: service.retries,
    hedge: undefined,
    split: undefined,
    sticky: undefined,
    fault: undefined,
    mirror: undefined,
    hashOn: undefined,
  }
}

function resolveAuthorization(rules: ServiceDocument['authorization']): AuthorizationRule[] {
  return (rules ?? []).map((r) => ({
    action: r.action ?? POLICY_DEFAULTS.authorization.action,
    from: r.from === undefined ? undefined : [...r.from],
    namespaces: r.namespaces === undefined ? undefined : [...r.namespaces],
    to: { paths: r.to?.paths === undefined ? undefined : [...r.to.paths], methods: r.to?.methods?.map((m) => m.toUpperCase()) },
    when: r.when === undefined ? undefined : { headers: stringMatches(r.when.headers, true) },
  }))
}

/** A service: its own fields over the document's defaults; every route over the service. */
export function resolveServiceDocument(name: string, doc: ServiceDocument, defaults: MeshDefaults): ServicePolicy {
  const merged = mergeInherited(defaults, doc)
  const routes = (doc.routes ?? []).map((r, i) => resolveRoute(r, i, merged))
  const last = routes[routes.length - 1]
  if (last === undefined || last.match.length > 0) routes.push(defaultRoute(merged))
  const endpoints: EndpointPolicy[] = (doc.endpoints ?? []).map((e) => ({
    address: e.address,
    host: e.host,
    port: e.port,
    labels: nullMap(Object.entries(e.labels ?? {})),
    weight: e.weight ?? POLICY_DEFAULTS.endpoint.weight,
  }))
  const discovery = doc.discovery
  return {
    name,
    endpoints,
    discovery:
      discovery === undefined
        ? undefined
        : discovery.dns !== undefined
          ? {
              dns: {
                name: discovery.dns.name,
                type: discovery.dns.type ?? POLICY_DEFAULTS.discovery.dnsType,
                port: discovery.dns.port,
                resolver: discovery.dns.resolver,
                refresh: discovery.dns.refresh,
              },
            }
          : { file: { path: (discovery.file as { path: string }).path } },
    mtls: merged.mtls,
    identity: doc.identity,
    subsets: nullMap(Object.entries(doc.subsets ?? {}).map(([k, v]) => [k, nullMap(Object.entries(v))] as const)),
    routes,
    authorization: resolveAuthorization(doc.authorization),
    timeout: merged.timeout,
    retries: merged.retries,
    loadBalancer: merged.loadBalancer,
    outlierDetection: merged.outlierDetection,
    circuitBreaker: merged.circuitBreaker,
    concurrency: merged.concurrency,
    connectionPool: merged.connectionPool,
    inboundTimeout: merged.inboundTimeout,
  }
}

/**
 * Checks that only make sense once levels are merged (a route's backoff base against the max it
 * inherits, …). A problem is reported once, at the level where the values last changed.
 */
export function mergedIssues(level: MeshDefaults | ServicePolicy, parent: MeshDefaults | undefined, path: (string | number)[]): RawIssue[] {
  const issues: RawIssue[] = []
  const backoff = (r: RetryPolicy, above: RetryPolicy | undefined, at: (string | number)[]) => {
    if (above !== undefined && r.backoff.base === above.backoff.base && r.backoff.max === above.backoff.max) return
    if (r.backoff.base > r.backoff.max) {
      issues.push({
        segments: [...at, 'retries', 'backoff'],
        message: `base (${r.backoff.base}ms) is longer than max (${r.backoff.max}ms)`,
      })
    }
  }
  backoff(level.retries, parent?.retries, path)
  if ('routes' in level) {
    for (const [i, r] of level.routes.entries()) backoff(r.retries, level.retries, [...path, 'routes', i])
  }
  const od = level.outlierDetection
  const above = parent?.outlierDetection
  const changed =
    above === undefined ||
    above === false ||
    od === false ||
    od.baseEjectionTime !== above.baseEjectionTime ||
    od.maxEjectionTime !== above.maxEjectionTime
  if (od !== false && changed && od.baseEjectionTime > od.maxEjectionTime) {
    issues.push({
      segments: [...path, 'outlierDetection'],
      message: `baseEjectionTime (${od.baseEjectionTime}ms) is longer than maxEjectionTime (${od.maxEjectionTime}ms)`,
    })
  }
  const t = level.inboundTimeout
  const before = parent?.inboundTimeout
  if (before === undefined || t.max !== before.max || t.min !== before.min || t.default !== before.default) {
    const at = [...path, 'inboundTimeout']
    if (t.min > t.max) issues.push({ segments: at, message: `min (${t.min}ms) is longer than max (${t.max}ms)` })
    if (t.default !== undefined && t.default > t.max)
      issues.push({ segments: at, message: `default (${t.default}ms) is longer than max (${t.max}ms)` })
  }
  return issues
}

/** The document's `defaults` level over the built-in ones. */
export function resolveDefaults(doc: PolicyDocument): MeshDefaults {
  return mergeInherited(builtInDefaults(), doc.defaults)
}
