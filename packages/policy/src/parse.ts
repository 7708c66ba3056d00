/** parsePolicy: text or data in, a resolved Policy out, or one WEFT_POLICY_INVALID error listing every issue found. */
import { createHash } from 'node:crypto'
import * as v from 'valibot'
import { POLICY_DEFAULTS } from './defaults.js'
import { describe, policyInvalid, type RawIssue } from './issues.js'
import { cleanTree, isUnder } from './raw-tree.js'
import { type Locate, type PolicyFormat, readText, sizeIssue, sniffFormat } from './read-text.js'
import { builtInDefaults, defaultRoute, mergedIssues, nullMap, resolveDefaults, resolveServiceDocument } from './resolve.js'
import { documentSchema } from './schema.js'
import { fromSchema } from './schema-issues.js'
import type { MeshDefaults, Policy, ServicePolicy } from './types.js'

export interface ParseOptions {
  /** Where the document came from (a path or URL), named in error messages. */
  source?: string
  /** Largest document in bytes, checked on the text before parsing. Default `1048576` (1 MiB). */
  maxBytes?: number
  /** Deepest nesting of mappings and lists. Default `64`. */
  maxDepth?: number
  /** The policy's version; default a content hash (sha256 of the canonical JSON, first 12 hex digits). */
  version?: string
  /** The format of text input; by default sniffed (`{` or `[` first means JSON, else YAML). */
  format?: PolicyFormat
}

/**
 * Validates a policy document, given as YAML or JSON text or as data, and resolves it: defaults
 * merged into services and services into routes, durations in milliseconds. Throws
 * `WEFT_POLICY_INVALID` with every issue in `details.issues` (`{ path, message }`).
 */
export function parsePolicy(input: string | object, options: ParseOptions = {}): Policy {
  const maxBytes = options.maxBytes ?? POLICY_DEFAULTS.limits.maxBytes
  const maxDepth = options.maxDepth ?? POLICY_DEFAULTS.limits.maxDepth
  const fail = (issues: RawIssue[]) => policyInvalid(issues, options.source)

  let data: unknown
  let fromText = false
  let locate: Locate | undefined
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: false }).decode(input)
    const read = readText(text, options.format ?? sniffFormat(text), {
      maxBytes,
      maxDepth,
      maxAliasCount: POLICY_DEFAULTS.limits.maxAliasCount,
    })
    if (read.issues.length > 0) throw fail(read.issues)
    data = read.value
    locate = read.locate
    fromText = true
  } else if (typeof input === 'object' && input !== null) {
    data = input
  } else {
    throw fail([{ segments: [], message: `expected policy text or a policy object, got ${describe(input)}` }])
  }

  const clean = cleanTree(data, { maxDepth, maxStringLength: POLICY_DEFAULTS.limits.maxStringLength })
  const doc = clean.value
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw fail([...clean.issues, { segments: [], message: `expected a mapping with apiVersion and services, got ${describe(doc)}` }])
  }
  const canonical = canonicalJson(doc)
  if (!fromText) {
    // data has no text to measure before parsing; its canonical JSON stands in for it
    const size = sizeIssue(Buffer.byteLength(canonical, 'utf8'), maxBytes)
    if (size !== undefined) throw fail([size])
  }

  const result = v.safeParse(documentSchema, doc)
  const issues: RawIssue[] = [...clean.issues]
  if (!result.success) {
    // a field the pre-pass already refused (or dropped) says nothing new when the schema trips on it too
    const schemaIssues = fromSchema(result.issues).filter((s) => !clean.issues.some((c) => isUnder(s.segments, c.segments)))
    issues.push(...schemaIssues)
  }
  if (issues.length > 0 || !result.success) throw fail(withPositions(issues, locate))

  const defaults = resolveDefaults(result.output)
  const merged: RawIssue[] = mergedIssues(defaults, undefined, ['defaults'])
  const services = nullMap<ServicePolicy>()
  for (const [name, service] of Object.entries(result.output.services ?? {})) {
    const resolved = resolveServiceDocument(name, service, defaults)
    merged.push(...mergedIssues(resolved, defaults, ['services', name]))
    services[name] = resolved
  }
  if (merged.length > 0) throw fail(withPositions(merged, locate))

  return deepFreeze({
    apiVersion: 'weft.dev/v1',
    version: options.version ?? createHash('sha256').update(canonical).digest('hex').slice(0, 12),
    services,
    document: doc,
    defaults,
  })
}

/** The service as the policy resolves it, or `undefined` when the document does not list it. Names ignore case. */
export function resolveService(policy: Policy, name: string): ServicePolicy | undefined {
  const services = policy.services
  if (Object.hasOwn(services, name)) return services[name]
  const lower = name.toLowerCase()
  return Object.hasOwn(services, lower) ? services[lower] : undefined
}

/**
 * The mesh defaults as a service: what a service the document does not list gets (the server's own
 * service, egress). No endpoints, no subsets, no authorization rules, one catch-all route.
 */
export function defaultServicePolicy(policy: Policy, name: string): ServicePolicy {
  const d: MeshDefaults = policy.defaults ?? builtInDefaults()
  return deepFreeze({
    name,
    endpoints: [],
    discovery: undefined,
    mtls: d.mtls,
    identity: undefined,
    subsets: nullMap(),
    routes: [defaultRoute(d)],
    authorization: [],
    timeout: d.timeout,
    retries: d.retries,
    loadBalancer: d.loadBalancer,
    outlierDetection: d.outlierDetection,
    circuitBreaker: d.circuitBreaker,
    concurrency: d.concurrency,
    connectionPool: d.connectionPool,
    inboundTimeout: d.inboundTimeout,
  })
}

function withPositions(issues: RawIssue[], locate: Locate | undefined) {
  if (locate === undefined) return issues
  return issues.map((issue) => {
    if (issue.line !== undefined) return issue
    const at = locate(issue.segments, issue.subject)
    return at === undefined ? issue : { ...issue, line: at.line, column: at.column }
  })
}

/** JSON with keys sorted at every level: the same content gives the same text, whatever its format or key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}
