/**
 * The policy document's schema (its input shape) in valibot: strict objects everywhere, so a misspelt
 * key is an error, with every field checked where it stands and durations turned into milliseconds.
 * Every schema carries its own message, in our words. Merging and defaults happen later, in `resolve.ts`.
 */
import { parseDuration } from '@weft/core'
import * as v from 'valibot'
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

/** The message of an unknown key; `schema-issues.ts` adds the "did you mean" hint. */
export const UNKNOWN_KEY = 'unknown key'

type Check = (value: string) => string | undefined
/** Reports an issue at `path` below the checked value; `'key'` when the last key there is itself the problem. */
type Fail = (message: string, path?: (string | number)[], subject?: 'key' | 'value') => void
type Schema<T = unknown> = v.GenericSchema<unknown, T>
type Issue = v.BaseIssue<unknown>
type Bound = (issue: Issue) => string

// ---- building blocks ----------------------------------------------------------------------------

/** `expected a number, got string "x"`: the message of a value of the wrong kind. */
const got = (what: string) => (issue: Issue) => (issue.input === undefined ? 'required' : `expected ${what}, got ${describe(issue.input)}`)

/** A path below the value a check looks at, in valibot's form (only the keys are read back). */
const pathOf = (keys: (string | number)[], origin: 'key' | 'value' = 'value') =>
  keys.map((key): v.IssuePathItem => ({ type: 'unknown', origin, input: undefined, key, value: undefined })) as [
    v.IssuePathItem,
    ...v.IssuePathItem[],
  ]

/** What a union said about the branch of the value's kind: a branch that failed only on the kind itself tells nothing. */
export const branchIssues = (union: Issue): Issue[] =>
  (union.issues ?? []).filter((issue) => !(issue.path === undefined && issue.kind === 'schema'))

/** The issue makes the value, or a part of it, of the wrong kind: a type, a transform or a key failed. */
function wrongKind(issue: Issue): boolean {
  if (issue.kind === 'validation') return false
  if (issue.type !== 'union') return true
  // a value of one branch's kind with nothing wrong but unknown keys is still of that kind
  const said = branchIssues(issue)
  return said.length === 0 || said.some((i) => i.message !== UNKNOWN_KEY)
}

/**
 * A check of a value already parsed. It is skipped when the value, or anything in it, is of the
 * wrong kind; a bound, an unknown key or another check failing does not stop it. `always` runs it
 * whatever failed, for checks across fields that trust no type.
 */
function refine<T>(check: (value: T, fail: Fail) => void, always = false) {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    if (!always && dataset.issues?.some(wrongKind)) return
    check(dataset.value as T, (message, path, subject) =>
      addIssue(path === undefined ? { message } : { message, path: pathOf(path, subject) }),
    )
  })
}

/** A transform that may refuse the value; a refused value counts as one of the wrong kind. */
function convert<I, O>(to: (value: I, refuse: (message: string) => O) => O) {
  return v.rawTransform<I, O>(({ dataset, addIssue, NEVER }) =>
    to(dataset.value, (message) => {
      addIssue({ message })
      return NEVER
    }),
  )
}

const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * A mapping with exactly these keys, any of which may be left out unless its schema says otherwise.
 * Every unknown key is an issue of its own, and it does not stop the object's checks from running
 * (a misspelt key says nothing about the fields that are there). `missing` overrides the message
 * for a required key that is absent; the default is `required`.
 */
function strict<E extends v.ObjectEntries>(entries: E, missing: Partial<Record<keyof E, string>> = {}) {
  return v.pipe(
    v.custom<Record<string, unknown>>(isMapping, got('a mapping')),
    v.looseObject(entries, (issue) => missing[issue.path?.[0]?.key as keyof E] ?? 'required'),
    v.rawCheck<Record<string, unknown>>(({ dataset, addIssue }) => {
      for (const key of Object.keys(dataset.value as object)) {
        if (!Object.hasOwn(entries, key)) addIssue({ message: UNKNOWN_KEY, path: pathOf([key], 'key') })
      }
    }),
  ) as unknown as Schema<v.InferOutput<v.ObjectSchema<E, undefined>>>
}

/**
 * A map with keys that pass `key`. A refused key is reported as `invalid key: …`, and what its
 * value holds is not (`schema-issues.ts` drops issues under a refused key).
 */
function map<K extends v.GenericSchema<string, string>, V extends Schema>(key: K, value: V) {
  return v.pipe(v.custom<Record<string, unknown>>(isMapping, got('a record')), v.record(key, value))
}

/** A key of a map: a string that passes `checks`. A refused key counts as the wrong kind, so the map's own checks skip it. */
function key(...checks: Check[]) {
  return v.pipe(
    string(),
    convert<string, string>((value, refuse) => {
      const problem = firstProblem(value, checks)
      return problem === undefined ? value : refuse(`invalid key: ${problem}`)
    }),
  )
}

const list = <T extends Schema>(item: T, min?: number) =>
  min === undefined
    ? v.array(item, got('a list'))
    : v.pipe(v.array(item, got('a list')), v.minLength(min, `must list at least ${min} item${min === 1 ? '' : 's'}`))

/**
 * One of `schemas`, each for a kind of value (a string or a mapping, false or a mapping, …). A value
 * of a listed kind gets what that schema says of it (`schema-issues.ts`); one of no listed kind, `message`.
 */
function either<const T extends Schema[]>(schemas: T, message: string) {
  return v.union(schemas, (issue) => `${message}, got ${describe(issue.input)}`)
}

const oneOf = <const T extends readonly string[]>(values: T) =>
  v.picklist(values, (issue) => `expected ${values.map((x) => JSON.stringify(x)).join(' or ')}, got ${describe(issue.input)}`)
const constant = <const T extends boolean>(value: T) => v.literal(value, got(JSON.stringify(value)))
const boolean = () => v.boolean(got('a boolean'))
const string = () => v.string(got('a string'))

const firstProblem = (value: string, checks: Check[]) => {
  for (const check of checks) {
    const problem = check(value)
    if (problem !== undefined) return problem
  }
  return undefined
}

/** A string that passes `checks`; each check says why it refuses. */
function text(...checks: Check[]) {
  return v.pipe(
    string(),
    refine<string>((value, fail) => {
      const problem = firstProblem(value, checks)
      if (problem !== undefined) fail(problem)
    }),
  )
}

const notEmpty: Check = (v) => (v.length === 0 ? 'must not be empty' : undefined)
const noControl: Check = (v) => (hasControl(v) ? 'must not contain control characters' : undefined)

// ---- numbers ------------------------------------------------------------------------------------

const bound = (words: string, limit: number) => (issue: Issue) => `must be ${words} ${limit}, got ${describe(issue.input)}`
const atLeast = (min: number) => v.minValue<number, number, Bound>(min, bound('at least', min))
const atMost = (max: number) => v.maxValue<number, number, Bound>(max, bound('at most', max))
const above = (min: number) => v.gtValue<number, number, Bound>(min, bound('greater than', min))
const below = (max: number) => v.ltValue<number, number, Bound>(max, bound('less than', max))

const number = () => v.number(got('a number'))
/** A number in `[min, max]`. */
const between = (min: number, max: number) => v.pipe(number(), atLeast(min), atMost(max))
const percent = between(0, 100)

/**
 * A whole number in `[min, max]`. A fraction counts as the wrong kind, so no bound is checked on it;
 * past the safe integers (±2^53) a number no longer counts exactly and is refused too.
 */
function count(min: number, max = 1_000_000) {
  return v.pipe(
    number(),
    convert<number, number>((value, refuse) => (Number.isInteger(value) ? value : refuse(`expected an integer, got ${describe(value)}`))),
    atLeast(Number.MIN_SAFE_INTEGER),
    atMost(Number.MAX_SAFE_INTEGER),
    atLeast(min),
    atMost(max),
  )
}

const notADuration = (value: unknown) => `expected a duration (250ms, 2s, 1m or a number of milliseconds), got ${describe(value)}`

/** `250ms`, `2s`, `1m`, `1m30s` or a number of milliseconds; `positive` refuses 0. */
function duration(positive = false) {
  return v.pipe(
    v.unknown(),
    convert<unknown, number>((value, refuse) => {
      if (typeof value !== 'string' && typeof value !== 'number') return refuse(notADuration(value))
      let ms: number
      try {
        ms = parseDuration(value)
      } catch (err) {
        return refuse((err as Error).message)
      }
      return positive && ms === 0 ? refuse('must be longer than 0') : ms
    }),
  )
}

/** Exactly one of `keys` is set. */
function exactlyOne<T extends object>(keys: readonly string[]) {
  return refine<T>((value, fail) => {
    const set = keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    if (set.length !== 1)
      fail(set.length === 0 ? `needs one of ${keys.join(', ')}` : `takes one of ${keys.join(', ')}, not ${set.join(' and ')}`)
  })
}

// ---- names --------------------------------------------------------------------------------------

const headerName = text(notEmpty, headerNameProblem)
const serviceName = key(serviceNameProblem)
const subsetName = text((v) => nameProblem(v, 'subset name'))
const subsetKey = key((v) => nameProblem(v, 'subset name'))
const routeName = text((v) => nameProblem(v, 'route name'))
const labels = map(key(labelKeyProblem), text(labelValueProblem))
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
      ? strict({ exact: v.optional(literal), prefix: v.optional(literal), regex: v.optional(regex) })
      : strict({
          exact: v.optional(literal),
          prefix: v.optional(literal),
          regex: v.optional(regex),
          present: v.optional(boolean()),
          absent: v.optional(boolean()),
        })
  const object = v.pipe(
    shape,
    exactlyOne(keys),
    v.transform((m: Record<string, unknown>): StringMatch => {
      if (m.exact !== undefined) return { exact: m.exact as string }
      if (m.prefix !== undefined) return { prefix: m.prefix as string }
      if (m.regex !== undefined) return { regex: m.regex as string }
      if (m.present !== undefined) return { present: m.present as boolean }
      return { present: !(m.absent as boolean) }
    }),
  )
  return either(
    [
      v.pipe(
        literal,
        v.transform((exact): StringMatch => ({ exact })),
      ),
      object,
    ],
    `expected a string (exact match) or one of { ${keys.join(' | ')} }`,
  )
}

/** Header name → matcher; two spellings of one name are refused (header names ignore case). */
const headerMatches = v.pipe(
  map(key(notEmpty, headerNameProblem), stringMatch('header')),
  refine((headers, fail) => {
    const seen = new Map<string, string>()
    for (const name of Object.keys(headers)) {
      const lower = name.toLowerCase()
      const other = seen.get(lower)
      if (other !== undefined) fail(`header ${name} appears twice (header names ignore case; also ${other})`, [name], 'key')
      seen.set(lower, name)
    }
  }),
)

const matchBlock = strict({
  path: v.optional(stringMatch('path')),
  methods: v.optional(list(method, 1)),
  headers: v.optional(headerMatches),
  query: v.optional(map(key(notEmpty, noControl), stringMatch('query'))),
})

const hashOn = v.pipe(
  strict({
    header: v.optional(headerName),
    cookie: v.optional(text(notEmpty, headerNameProblem)),
    identity: v.optional(constant(true)),
  }),
  exactlyOne(['header', 'cookie', 'identity']),
  v.transform((h): HashOn => {
    if (h.header !== undefined) return { header: h.header.toLowerCase() }
    if (h.cookie !== undefined) return { cookie: h.cookie }
    return { identity: true }
  }),
)

// ---- retries, balancing, health -----------------------------------------------------------------

export const RETRY_ON_NAMES = ['5xx', 'gateway-error', 'retriable-4xx', 'connect-failure', 'reset', 'refused-stream', 'timeout'] as const

const retryOn = v.pipe(
  v.unknown(),
  convert<unknown, RetryOn>((value, refuse) => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599) return value
    if (typeof value === 'string' && (RETRY_ON_NAMES as readonly string[]).includes(value)) return value as RetryOn
    return refuse(`expected a status code 100-599 or one of ${RETRY_ON_NAMES.join(', ')}, got ${describe(value)}`)
  }),
)

const budget = strict({
  ratio: v.optional(between(0, 1)),
  minPerSecond: v.optional(between(0, 1_000_000)),
  window: v.optional(duration(true)),
})

const retryFields = {
  attempts: v.optional(count(1, 10)),
  perTryTimeout: v.optional(duration(true)),
  on: v.optional(list(retryOn)),
  backoff: v.optional(strict({ base: v.optional(duration()), max: v.optional(duration()) })),
  unsafe: v.optional(boolean()),
  bufferLimit: v.optional(count(0, 64 * 1_048_576)),
}

const serviceRetries = strict({ ...retryFields, budget: v.optional(budget) })
const routeRetries = strict({
  ...retryFields,
  budget: v.optional(
    v.pipe(
      v.unknown(),
      refine((_v, fail) => fail('the retry budget is per service: set it under the service or under defaults')),
    ),
  ),
})

export const LOAD_BALANCER_TYPES = [
  'round-robin',
  'least-request',
  'ewma',
  'ring-hash',
  'maglev',
] as const satisfies readonly LoadBalancerType[]

const loadBalancer = either(
  [
    v.pipe(
      oneOf(LOAD_BALANCER_TYPES),
      v.transform((type) => ({ type })),
    ),
    strict({
      type: v.optional(oneOf(LOAD_BALANCER_TYPES)),
      decay: v.optional(duration(true)),
      defaultRtt: v.optional(duration(true)),
      activeRequestBias: v.optional(between(0, 10)),
      slowStartWindow: v.optional(duration()),
      hashOn: v.optional(hashOn),
    }),
  ],
  `expected one of ${LOAD_BALANCER_TYPES.join(', ')}, or { type, decay, defaultRtt, activeRequestBias, slowStartWindow, hashOn }`,
)

/** `false` turns a section off; otherwise its settings, each falling back to the level above. */
function offOr<T extends Schema>(object: T, what: string) {
  return either([constant(false), object], `expected false (turns ${what} off) or a mapping of its settings`)
}

const outlierDetection = offOr(
  strict({
    consecutive5xx: v.optional(count(1)),
    consecutiveGatewayErrors: v.optional(count(1)),
    interval: v.optional(duration(true)),
    baseEjectionTime: v.optional(duration(true)),
    maxEjectionTime: v.optional(duration(true)),
    maxEjectionPercent: v.optional(percent),
    panicThreshold: v.optional(percent),
    successRate: v.optional(
      offOr(
        strict({
          minimumHosts: v.optional(count(1)),
          requestVolume: v.optional(count(1)),
          stdevFactor: v.optional(v.pipe(number(), above(0), atMost(100))),
        }),
        'success-rate ejection',
      ),
    ),
    failurePercentage: v.optional(
      offOr(
        strict({ threshold: v.optional(percent), minimumHosts: v.optional(count(1)), requestVolume: v.optional(count(1)) }),
        'failure-percentage ejection',
      ),
    ),
  }),
  'outlier detection',
)

const circuitBreaker = offOr(
  strict({
    failurePercent: v.optional(v.pipe(number(), above(0), atMost(100))),
    minimumRequests: v.optional(count(1)),
    window: v.optional(duration(true)),
    breakDuration: v.optional(duration(true)),
    halfOpenRequests: v.optional(count(1, 1000)),
  }),
  'the circuit breaker',
)

const concurrency = strict({ maxInFlight: v.optional(count(1)), maxPending: v.optional(count(0)) })

/** The connections weft keeps to each of the service's endpoints (outbound). */
const connectionPool = strict({ maxConnections: v.optional(count(1)) })

/** How this service, when it is the one serving, bounds the deadlines its callers send. */
const inboundTimeout = strict({ max: v.optional(duration(true)), min: v.optional(duration()), default: v.optional(duration(true)) })

export const MTLS_MODES = ['STRICT', 'PERMISSIVE', 'DISABLE'] as const satisfies readonly MtlsMode[]
const mtls = oneOf(MTLS_MODES)

/** What `defaults` and a service may both set. */
const inherited = {
  timeout: v.optional(duration(true)),
  retries: v.optional(serviceRetries),
  loadBalancer: v.optional(loadBalancer),
  outlierDetection: v.optional(outlierDetection),
  circuitBreaker: v.optional(circuitBreaker),
  concurrency: v.optional(concurrency),
  connectionPool: v.optional(connectionPool),
  inboundTimeout: v.optional(inboundTimeout),
  mtls: v.optional(mtls),
}

// ---- routes -------------------------------------------------------------------------------------

const split = v.pipe(
  list(strict({ subset: subsetName, weight: v.optional(between(0, 1_000_000)) }), 1),
  refine((targets, fail) => {
    const seen = new Map<string, number>()
    targets.forEach((t, i) => {
      const first = seen.get(t.subset)
      if (first !== undefined) fail(`subset ${t.subset} appears twice (also split[${first}])`, [i, 'subset'])
      else seen.set(t.subset, i)
    })
    const sum = targets.reduce((s, t) => s + (t.weight ?? 1), 0)
    if (sum <= 0) fail('weights sum to 0')
  }),
)

const fault = v.pipe(
  strict({
    abort: v.optional(strict({ status: count(200, 599), percent })),
    delay: v.optional(strict({ fixed: duration(), percent }, { fixed: notADuration(undefined) })),
    maxActive: v.optional(count(1)),
    headers: v.optional(boolean()),
  }),
  refine((f, fail) => {
    if (f.abort === undefined && f.delay === undefined && f.headers !== true) fail('needs abort, delay or headers: true')
  }),
)

const hedge = v.pipe(
  strict({
    delay: v.optional(duration()),
    percentile: v.optional(v.pipe(number(), above(0), below(100))),
    maxAttempts: v.optional(count(2, 10)),
  }),
  exactlyOne(['delay', 'percentile']),
)

const route = strict({
  name: v.optional(routeName),
  match: v.optional(either([matchBlock, list(matchBlock, 1)], 'expected a match block or a list of them')),
  timeout: v.optional(duration(true)),
  retries: v.optional(routeRetries),
  hedge: v.optional(hedge),
  split: v.optional(split),
  sticky: v.optional(hashOn),
  fault: v.optional(fault),
  mirror: v.optional(strict({ subset: subsetName, percent: v.optional(percent) })),
  hashOn: v.optional(hashOn),
})

// ---- services -----------------------------------------------------------------------------------

const address = v.pipe(
  string(),
  convert<string, { address: string; host: string; port: number }>((value, refuse) => {
    const parsed = parseAddress(value)
    return typeof parsed === 'string' ? refuse(parsed) : parsed
  }),
)

const endpoint = either(
  [
    v.pipe(
      address,
      v.transform((a) => ({ ...a, labels: undefined, weight: undefined })),
    ),
    v.pipe(
      strict({ address, labels: v.optional(labels), weight: v.optional(v.pipe(number(), above(0), atMost(1_000_000))) }),
      v.transform(({ address: a, ...rest }) => ({ ...a, ...rest })),
    ),
  ],
  'expected host:port or { address, labels, weight }',
)

const dns = v.pipe(
  strict({
    name: text(dnsNameProblem),
    type: v.optional(oneOf(['A', 'AAAA', 'SRV'])),
    port: v.optional(count(1, 65535)),
    resolver: v.optional(text(resolverProblem)),
    refresh: v.optional(duration(true)),
  }),
  refine((dns, fail) => {
    if ((dns.type ?? 'A') !== 'SRV' && dns.port === undefined) fail(`port is required for ${dns.type ?? 'A'} records`, ['port'])
  }),
)

const discovery = v.pipe(
  strict({ dns: v.optional(dns), file: v.optional(strict({ path: text(notEmpty, noControl) })) }),
  exactlyOne(['dns', 'file']),
)

const authorizationPath = text((v) =>
  (v.startsWith('/') || v.startsWith('*')) && !/\s/.test(v) && !hasControl(v)
    ? undefined
    : 'path pattern must start with "/" or "*" and hold no whitespace',
)

const authorizationRule = strict({
  action: v.optional(oneOf(['ALLOW', 'DENY', 'AUDIT'])),
  from: v.optional(list(text(principalProblem), 1)),
  namespaces: v.optional(
    list(
      text((v) => (v === '*' || /^\*?[a-z0-9-]{1,63}\*?$/.test(v) ? undefined : 'invalid namespace')),
      1,
    ),
  ),
  to: v.optional(strict({ paths: v.optional(list(authorizationPath, 1)), methods: v.optional(list(method, 1)) })),
  when: v.optional(strict({ headers: headerMatches })),
})

const identity = text((v) => {
  if (v === '*') return undefined
  if (!v.startsWith('spiffe://')) return 'identity must be a SPIFFE ID (spiffe://trust-domain/path) or a pattern of one with *'
  return principalProblem(v)
})

const service = v.pipe(
  strict({
    endpoints: v.optional(list(endpoint)),
    discovery: v.optional(discovery),
    identity: v.optional(identity),
    subsets: v.optional(map(subsetKey, labels)),
    routes: v.optional(list(route)),
    authorization: v.optional(list(authorizationRule)),
    ...inherited,
  }),
  // runs even when other fields of the service failed, so one pass reports every issue; hence it trusts no type
  refine((s, fail) => crossCheckService(s, fail), true),
)

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const items = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const stringAt = (v: unknown, key: string): string | undefined =>
  isRecord(v) && typeof v[key] === 'string' ? (v[key] as string) : undefined

/** Checks across a service's fields: endpoints or discovery, subsets that exist, route names, reachable routes. */
function crossCheckService(s: unknown, fail: Fail) {
  if (!isRecord(s)) return
  if (s.endpoints !== undefined && s.discovery !== undefined) fail('give endpoints or discovery, not both', ['discovery'])
  if (Array.isArray(s.endpoints) && s.endpoints.length === 0)
    fail('is empty: list at least one endpoint, or leave endpoints out', ['endpoints'])
  const addresses = new Map<string, number>()
  items(s.endpoints).forEach((e, i) => {
    const address = stringAt(e, 'address')
    if (address === undefined) return
    const first = addresses.get(address)
    if (first !== undefined) fail(`duplicate endpoint ${address} (also endpoints[${first}])`, ['endpoints', i])
    else addresses.set(address, i)
  })
  const subsets = isRecord(s.subsets) ? Object.keys(s.subsets) : []
  const known = (subset: string | undefined, path: (string | number)[]) => {
    if (subset === undefined || subsets.includes(subset)) return
    const names = subsets.length === 0 ? 'the service defines no subsets' : `subsets: ${subsets.join(', ')}`
    fail(`unknown subset ${subset} (${names})`, path)
  }
  const names = new Map<string, number>()
  const routes = items(s.routes)
  routes.forEach((r, i) => {
    if (!isRecord(r)) return
    items(r.split).forEach((t, j) => {
      known(stringAt(t, 'subset'), ['routes', i, 'split', j, 'subset'])
    })
    known(stringAt(r.mirror, 'subset'), ['routes', i, 'mirror', 'subset'])
    if (r.sticky !== undefined && r.split === undefined) fail('sticky needs a split to stick to', ['routes', i, 'sticky'])
    const name = typeof r.name === 'string' ? r.name : `route-${i}`
    const first = names.get(name)
    if (first !== undefined) fail(`duplicate route name ${name} (also routes[${first}])`, ['routes', i, 'name'])
    else names.set(name, i)
    const last = i === routes.length - 1
    if (name === 'default' && !(last && r.match === undefined)) {
      fail('the name default is kept for the catch-all route: only a last route without match may take it', ['routes', i, 'name'])
    }
    if (r.match === undefined && !last) {
      fail(`never reached: routes[${i}] before it has no match, so it takes every call; move that one last`, ['routes', i + 1])
    }
  })
}

const defaults = strict(inherited)

export const documentSchema = strict(
  {
    apiVersion: v.pipe(
      v.unknown(),
      refine((version, fail) => {
        if (version !== API_VERSION) fail(`unsupported version ${describe(version)}; this weft reads ${API_VERSION}`)
      }),
    ),
    defaults: v.optional(defaults),
    services: v.optional(map(serviceName, service)),
  },
  { apiVersion: `required: write apiVersion: ${API_VERSION}` },
)

export type PolicyDocument = v.InferOutput<typeof documentSchema>
export type ServiceDocument = v.InferOutput<typeof service>
export type RouteDocument = v.InferOutput<typeof route>
export type InheritedDocument = v.InferOutput<typeof defaults>
export type RetriesDocument = v.InferOutput<typeof serviceRetries>
export type MatchDocument = v.InferOutput<typeof matchBlock>
export type AuthorizationDocument = v.InferOutput<typeof authorizationRule>
export type DiscoveryDocument = v.InferOutput<typeof discovery>

/** Every key the schema knows, for "did you mean" hints on unknown keys. */
export const KNOWN_KEYS: readonly string[] = [
  ...new Set(
    'apiVersion defaults services endpoints discovery identity subsets routes authorization timeout retries loadBalancer outlierDetection circuitBreaker concurrency connectionPool maxConnections inboundTimeout mtls attempts perTryTimeout on backoff base max budget ratio minPerSecond window unsafe bufferLimit type decay defaultRtt activeRequestBias slowStartWindow hashOn header cookie consecutive5xx consecutiveGatewayErrors interval baseEjectionTime maxEjectionTime maxEjectionPercent panicThreshold successRate failurePercentage minimumHosts requestVolume stdevFactor threshold failurePercent minimumRequests breakDuration halfOpenRequests maxInFlight maxPending name match path methods headers query exact prefix regex present absent hedge delay percentile maxAttempts split subset weight sticky fault abort status percent fixed maxActive mirror address labels dns port resolver refresh file action from namespaces to paths when'.split(
      ' ',
    ),
  ),
]
