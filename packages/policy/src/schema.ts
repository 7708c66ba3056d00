/**
 * The policy document's schema (its input shape) in zod: strict objects everywhere, so a misspelt
 * key is an error, with every field checked where it stands and durations turned into milliseconds.
 * Merging and defaults happen later, in `resolve.ts`.
 */
import { parseDuration } from '@weft/core'
import { z } from 'zod'
import {
  dnsNameProblem,
  hasControl,
  headerNameProblem,
  headerValueProblem,
  labelKeyProblem,
  labelValueProblem,
  methodProblem,
  nameProblem,
  parseAddress,
  pathProblem,
  principalProblem,
  resolverProblem,
  serviceNameProblem,
} from './checks.js'
import { describe } from './issues.js'
import { regexProblem } from './regex-safety.js'
import type { HashOn, LoadBalancerType, MtlsMode, RetryOn, StringMatch } from './types.js'

export const API_VERSION = 'weft.dev/v1'

type Check = (value: string) => string | undefined
type Ctx = z.core.$RefinementCtx<unknown>

const fail = (ctx: Ctx, message: string, path?: (string | number)[]) =>
  ctx.addIssue(path === undefined ? { code: 'custom', message } : { code: 'custom', message, path })

/** A string that passes `checks`; each check says why it refuses. */
function text(...checks: Check[]) {
  return z.string().superRefine((value, ctx) => {
    for (const check of checks) {
      const problem = check(value)
      if (problem !== undefined) return fail(ctx, problem)
    }
  })
}

const notEmpty: Check = (v) => (v.length === 0 ? 'must not be empty' : undefined)
const noControl: Check = (v) => (hasControl(v) ? 'must not contain control characters' : undefined)

/** `250ms`, `2s`, `1m`, `1m30s` or a number of milliseconds; `positive` refuses 0. */
function duration(positive = false) {
  return z.unknown().transform((value, ctx) => {
    if (typeof value !== 'string' && typeof value !== 'number') {
      fail(ctx, `expected a duration (250ms, 2s, 1m or a number of milliseconds), got ${describe(value)}`)
      return z.NEVER
    }
    let ms: number
    try {
      ms = parseDuration(value)
    } catch (err) {
      fail(ctx, (err as Error).message)
      return z.NEVER
    }
    if (positive && ms === 0) {
      fail(ctx, 'must be longer than 0')
      return z.NEVER
    }
    return ms
  })
}

const percent = z.number().min(0).max(100)
const count = (min: number, max = 1_000_000) => z.int().min(min).max(max)

/** Exactly one of `keys` is set. */
function exactlyOne(keys: readonly string[]) {
  return (value: Record<string, unknown>, ctx: Ctx) => {
    const set = keys.filter((k) => value[k] !== undefined)
    if (set.length !== 1)
      fail(ctx, set.length === 0 ? `needs one of ${keys.join(', ')}` : `takes one of ${keys.join(', ')}, not ${set.join(' and ')}`)
  }
}

// ---- names --------------------------------------------------------------------------------------

const headerName = text(notEmpty, headerNameProblem)
const serviceName = text(serviceNameProblem)
const subsetName = text((v) => nameProblem(v, 'subset name'))
const routeName = text((v) => nameProblem(v, 'route name'))
const labels = z.record(text(labelKeyProblem), text(labelValueProblem))
const method = text(methodProblem)

// ---- matchers -----------------------------------------------------------------------------------

type MatchKind = 'header' | 'query' | 'path'

const valueCheck: Record<MatchKind, Check> = {
  header: headerValueProblem,
  query: (v) => (hasControl(v) ? 'invalid query value' : undefined),
  path: pathProblem,
}

/** `value` (exact) or `{ exact | prefix | regex | present | absent }`; paths take no present/absent. */
function stringMatch(kind: MatchKind) {
  const literal = text(valueCheck[kind])
  const regex = text((v) => regexProblem(v))
  const keys = kind === 'path' ? ['exact', 'prefix', 'regex'] : ['exact', 'prefix', 'regex', 'present', 'absent']
  const shape =
    kind === 'path'
      ? z.strictObject({ exact: literal.optional(), prefix: literal.optional(), regex: regex.optional() })
      : z.strictObject({
          exact: literal.optional(),
          prefix: literal.optional(),
          regex: regex.optional(),
          present: z.boolean().optional(),
          absent: z.boolean().optional(),
        })
  const object = shape.superRefine(exactlyOne(keys)).transform((m: Record<string, unknown>): StringMatch => {
    if (m.exact !== undefined) return { exact: m.exact as string }
    if (m.prefix !== undefined) return { prefix: m.prefix as string }
    if (m.regex !== undefined) return { regex: m.regex as string }
    if (m.present !== undefined) return { present: m.present as boolean }
    return { present: !(m.absent as boolean) }
  })
  return z.union([literal.transform((exact): StringMatch => ({ exact })), object], {
    error: `expected a string (exact match) or one of { ${keys.join(' | ')} }`,
  })
}

const headerMatches = z.record(headerName, stringMatch('header')).superRefine((headers, ctx) => {
  const seen = new Map<string, string>()
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase()
    const other = seen.get(lower)
    if (other !== undefined) fail(ctx, `header ${name} appears twice (header names ignore case; also ${other})`, [name])
    seen.set(lower, name)
  }
})

const matchBlock = z.strictObject({
  path: stringMatch('path').optional(),
  methods: z.array(method).min(1).optional(),
  headers: headerMatches.optional(),
  query: z.record(text(notEmpty, noControl), stringMatch('query')).optional(),
})

const hashOn = z
  .strictObject({
    header: headerName.optional(),
    cookie: text(notEmpty, headerNameProblem).optional(),
    identity: z.literal(true).optional(),
  })
  .superRefine(exactlyOne(['header', 'cookie', 'identity']))
  .transform((h): HashOn => {
    if (h.header !== undefined) return { header: h.header.toLowerCase() }
    if (h.cookie !== undefined) return { cookie: h.cookie }
    return { identity: true }
  })

// ---- retries, balancing, health -----------------------------------------------------------------

export const RETRY_ON_NAMES = ['5xx', 'gateway-error', 'retriable-4xx', 'connect-failure', 'reset', 'refused-stream', 'timeout'] as const

const retryOn = z.unknown().transform((value, ctx): RetryOn => {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599) return value
  if (typeof value === 'string' && (RETRY_ON_NAMES as readonly string[]).includes(value)) return value as RetryOn
  fail(ctx, `expected a status code 100-599 or one of ${RETRY_ON_NAMES.join(', ')}, got ${describe(value)}`)
  return z.NEVER
})

const budget = z.strictObject({
  ratio: z.number().min(0).max(1).optional(),
  minPerSecond: z.number().min(0).max(1_000_000).optional(),
  window: duration(true).optional(),
})

const retryFields = {
  attempts: count(1, 10).optional(),
  perTryTimeout: duration(true).optional(),
  on: z.array(retryOn).optional(),
  backoff: z.strictObject({ base: duration().optional(), max: duration().optional() }).optional(),
  unsafe: z.boolean().optional(),
  bufferLimit: count(0, 64 * 1_048_576).optional(),
}

const serviceRetries = z.strictObject({ ...retryFields, budget: budget.optional() })
const routeRetries = z.strictObject({
  ...retryFields,
  budget: z
    .unknown()
    .superRefine((_v, ctx) => fail(ctx, 'the retry budget is per service: set it under the service or under defaults'))
    .optional(),
})

export const LOAD_BALANCER_TYPES = [
  'round-robin',
  'least-request',
  'ewma',
  'ring-hash',
  'maglev',
] as const satisfies readonly LoadBalancerType[]

const loadBalancer = z.union(
  [
    z.enum(LOAD_BALANCER_TYPES).transform((type) => ({ type })),
    z.strictObject({
      type: z.enum(LOAD_BALANCER_TYPES).optional(),
      decay: duration(true).optional(),
      defaultRtt: duration(true).optional(),
      activeRequestBias: z.number().min(0).max(10).optional(),
      slowStartWindow: duration().optional(),
      hashOn: hashOn.optional(),
    }),
  ],
  {
    error: `expected one of ${LOAD_BALANCER_TYPES.join(', ')}, or { type, decay, defaultRtt, activeRequestBias, slowStartWindow, hashOn }`,
  },
)

/** `false` turns a section off; otherwise its settings, each falling back to the level above. */
function offOr<T extends z.ZodType>(object: T, what: string) {
  return z.union([z.literal(false), object], { error: `expected false (turns ${what} off) or a mapping of its settings` })
}

const outlierDetection = offOr(
  z.strictObject({
    consecutive5xx: count(1).optional(),
    consecutiveGatewayErrors: count(1).optional(),
    interval: duration(true).optional(),
    baseEjectionTime: duration(true).optional(),
    maxEjectionTime: duration(true).optional(),
    maxEjectionPercent: percent.optional(),
    panicThreshold: percent.optional(),
    successRate: offOr(
      z.strictObject({
        minimumHosts: count(1).optional(),
        requestVolume: count(1).optional(),
        stdevFactor: z.number().gt(0).max(100).optional(),
      }),
      'success-rate ejection',
    ).optional(),
    failurePercentage: offOr(
      z.strictObject({ threshold: percent.optional(), minimumHosts: count(1).optional(), requestVolume: count(1).optional() }),
      'failure-percentage ejection',
    ).optional(),
  }),
  'outlier detection',
)

const circuitBreaker = offOr(
  z.strictObject({
    failurePercent: z.number().gt(0).max(100).optional(),
    minimumRequests: count(1).optional(),
    window: duration(true).optional(),
    breakDuration: duration(true).optional(),
    halfOpenRequests: count(1, 1000).optional(),
  }),
  'the circuit breaker',
)

const concurrency = z.strictObject({ maxInFlight: count(1).optional(), maxPending: count(0).optional() })

export const MTLS_MODES = ['STRICT', 'PERMISSIVE', 'DISABLE'] as const satisfies readonly MtlsMode[]
const mtls = z.enum(MTLS_MODES)

/** What `defaults` and a service may both set. */
const inherited = {
  timeout: duration(true).optional(),
  retries: serviceRetries.optional(),
  loadBalancer: loadBalancer.optional(),
  outlierDetection: outlierDetection.optional(),
  circuitBreaker: circuitBreaker.optional(),
  concurrency: concurrency.optional(),
  mtls: mtls.optional(),
}

// ---- routes -------------------------------------------------------------------------------------

const split = z
  .array(z.strictObject({ subset: subsetName, weight: z.number().min(0).max(1_000_000).optional() }))
  .min(1)
  .superRefine((targets, ctx) => {
    const seen = new Map<string, number>()
    targets.forEach((t, i) => {
      const first = seen.get(t.subset)
      if (first !== undefined) fail(ctx, `subset ${t.subset} appears twice (also split[${first}])`, [i, 'subset'])
      else seen.set(t.subset, i)
    })
    const sum = targets.reduce((s, t) => s + (t.weight ?? 1), 0)
    if (sum <= 0) fail(ctx, 'weights sum to 0')
  })

const fault = z
  .strictObject({
    abort: z.strictObject({ status: z.int().min(200).max(599), percent }).optional(),
    delay: z.strictObject({ fixed: duration(), percent }).optional(),
    maxActive: count(1).optional(),
    headers: z.boolean().optional(),
  })
  .superRefine((f, ctx) => {
    if (f.abort === undefined && f.delay === undefined && f.headers !== true) fail(ctx, 'needs abort, delay or headers: true')
  })

const hedge = z
  .strictObject({
    delay: duration().optional(),
    percentile: z.number().gt(0).lt(100).optional(),
    maxAttempts: count(2, 10).optional(),
  })
  .superRefine(exactlyOne(['delay', 'percentile']))

const route = z.strictObject({
  name: routeName.optional(),
  match: z.union([matchBlock, z.array(matchBlock).min(1)], { error: 'expected a match block or a list of them' }).optional(),
  timeout: duration(true).optional(),
  retries: routeRetries.optional(),
  hedge: hedge.optional(),
  split: split.optional(),
  sticky: hashOn.optional(),
  fault: fault.optional(),
  mirror: z.strictObject({ subset: subsetName, percent: percent.optional() }).optional(),
  hashOn: hashOn.optional(),
})

// ---- services -----------------------------------------------------------------------------------

const address = z.string().transform((value, ctx) => {
  const parsed = parseAddress(value)
  if (typeof parsed === 'string') {
    fail(ctx, parsed)
    return z.NEVER
  }
  return parsed
})

const endpoint = z.union(
  [
    address.transform((a) => ({ ...a, labels: undefined, weight: undefined })),
    z
      .strictObject({ address, labels: labels.optional(), weight: z.number().gt(0).max(1_000_000).optional() })
      .transform(({ address: a, ...rest }) => ({ ...a, ...rest })),
  ],
  { error: 'expected host:port or { address, labels, weight }' },
)

const discovery = z
  .strictObject({
    dns: z
      .strictObject({
        name: text(dnsNameProblem),
        type: z.enum(['A', 'AAAA', 'SRV']).optional(),
        port: count(1, 65535).optional(),
        resolver: text(resolverProblem).optional(),
        refresh: duration(true).optional(),
      })
      .superRefine((dns, ctx) => {
        if ((dns.type ?? 'A') !== 'SRV' && dns.port === undefined) fail(ctx, `port is required for ${dns.type ?? 'A'} records`, ['port'])
      })
      .optional(),
    file: z.strictObject({ path: text(notEmpty, noControl) }).optional(),
  })
  .superRefine(exactlyOne(['dns', 'file']))

const authorizationPath = text((v) =>
  (v.startsWith('/') || v.startsWith('*')) && !/\s/.test(v) && !hasControl(v)
    ? undefined
    : 'path pattern must start with "/" or "*" and hold no whitespace',
)

const authorizationRule = z.strictObject({
  action: z.enum(['ALLOW', 'DENY', 'AUDIT']).optional(),
  from: z.array(text(principalProblem)).min(1).optional(),
  namespaces: z
    .array(text((v) => (v === '*' || /^\*?[a-z0-9-]{1,63}\*?$/.test(v) ? undefined : 'invalid namespace')))
    .min(1)
    .optional(),
  to: z.strictObject({ paths: z.array(authorizationPath).min(1).optional(), methods: z.array(method).min(1).optional() }).optional(),
  when: z.strictObject({ headers: headerMatches }).optional(),
})

const identity = text((v) => {
  if (v === '*') return undefined
  if (!v.startsWith('spiffe://')) return 'identity must be a SPIFFE ID (spiffe://trust-domain/path) or a pattern of one with *'
  return principalProblem(v)
})

const service = z
  .strictObject({
    endpoints: z.array(endpoint).optional(),
    discovery: discovery.optional(),
    identity: identity.optional(),
    subsets: z.record(subsetName, labels).optional(),
    routes: z.array(route).optional(),
    authorization: z.array(authorizationRule).optional(),
    ...inherited,
  })
  // runs even when other fields of the service failed, so one pass reports every issue; hence it trusts no type
  .superRefine((s, ctx) => crossCheckService(s, ctx), { when: (payload) => isRecord(payload.value) })

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const stringAt = (v: unknown, key: string): string | undefined =>
  isRecord(v) && typeof v[key] === 'string' ? (v[key] as string) : undefined

/** Checks across a service's fields: endpoints or discovery, subsets that exist, route names, reachable routes. */
function crossCheckService(s: Record<string, unknown>, ctx: Ctx) {
  if (s.endpoints !== undefined && s.discovery !== undefined) fail(ctx, 'give endpoints or discovery, not both', ['discovery'])
  if (Array.isArray(s.endpoints) && s.endpoints.length === 0)
    fail(ctx, 'is empty: list at least one endpoint, or leave endpoints out', ['endpoints'])
  const addresses = new Map<string, number>()
  list(s.endpoints).forEach((e, i) => {
    const address = stringAt(e, 'address')
    if (address === undefined) return
    const first = addresses.get(address)
    if (first !== undefined) fail(ctx, `duplicate endpoint ${address} (also endpoints[${first}])`, ['endpoints', i])
    else addresses.set(address, i)
  })
  const subsets = isRecord(s.subsets) ? Object.keys(s.subsets) : []
  const known = (subset: string | undefined, path: (string | number)[]) => {
    if (subset === undefined || subsets.includes(subset)) return
    const names = subsets.length === 0 ? 'the service defines no subsets' : `subsets: ${subsets.join(', ')}`
    fail(ctx, `unknown subset ${subset} (${names})`, path)
  }
  const names = new Map<string, number>()
  const routes = list(s.routes)
  routes.forEach((r, i) => {
    if (!isRecord(r)) return
    list(r.split).forEach((t, j) => {
      known(stringAt(t, 'subset'), ['routes', i, 'split', j, 'subset'])
    })
    known(stringAt(r.mirror, 'subset'), ['routes', i, 'mirror', 'subset'])
    if (r.sticky !== undefined && r.split === undefined) fail(ctx, 'sticky needs a split to stick to', ['routes', i, 'sticky'])
    const name = typeof r.name === 'string' ? r.name : `route-${i}`
    const first = names.get(name)
    if (first !== undefined) fail(ctx, `duplicate route name ${name} (also routes[${first}])`, ['routes', i, 'name'])
    else names.set(name, i)
    const last = i === routes.length - 1
    if (name === 'default' && !(last && r.match === undefined)) {
      fail(ctx, 'the name default is kept for the catch-all route: only a last route without match may take it', ['routes', i, 'name'])
    }
    if (r.match === undefined && !last) {
      fail(ctx, `never reached: routes[${i}] before it has no match, so it takes every call; move that one last`, ['routes', i + 1])
    }
  })
}

const defaults = z.strictObject(inherited)

export const documentSchema = z.strictObject({
  apiVersion: z.unknown().superRefine((v, ctx) => {
    if (v === undefined) fail(ctx, `required: write apiVersion: ${API_VERSION}`)
    else if (v !== API_VERSION) fail(ctx, `unsupported version ${describe(v)}; this weft reads ${API_VERSION}`)
  }),
  defaults: defaults.optional(),
  services: z.record(serviceName, service).optional(),
})

export type PolicyDocument = z.output<typeof documentSchema>
export type ServiceDocument = z.output<typeof service>
export type RouteDocument = z.output<typeof route>
export type InheritedDocument = z.output<typeof defaults>
export type RetriesDocument = z.output<typeof serviceRetries>
export type MatchDocument = z.output<typeof matchBlock>
export type AuthorizationDocument = z.output<typeof authorizationRule>
export type DiscoveryDocument = z.output<typeof discovery>

/** Every key the schema knows, for "did you mean" hints on unknown keys. */
export const KNOWN_KEYS: readonly string[] = [
  ...new Set(
    'apiVersion defaults services endpoints discovery identity subsets routes authorization timeout retries loadBalancer outlierDetection circuitBreaker concurrency mtls attempts perTryTimeout on backoff base max budget ratio minPerSecond window unsafe bufferLimit type decay defaultRtt activeRequestBias slowStartWindow hashOn header cookie consecutive5xx consecutiveGatewayErrors interval baseEjectionTime maxEjectionTime maxEjectionPercent panicThreshold successRate failurePercentage minimumHosts requestVolume stdevFactor threshold failurePercent minimumRequests breakDuration halfOpenRequests maxInFlight maxPending name match path methods headers query exact prefix regex present absent hedge delay percentile maxAttempts split subset weight sticky fault abort status percent fixed maxActive mirror address labels dns port resolver refresh file action from namespaces to paths when'.split(
      ' ',
    ),
  ),
]
