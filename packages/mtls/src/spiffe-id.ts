/**
 * SPIFFE IDs (`spiffe://<trust-domain>/<path>`), parsed and validated by the SPIFFE ID
 * specification's rules, and the Istio-shaped `ns/<namespace>/sa/<service>` identity of a service.
 */
import { WeftError } from '@weft/core'

/** A valid SPIFFE ID, split into its parts. */
export interface SpiffeId {
  /** The whole ID, `spiffe://weft.local/ns/default/sa/checkout`. */
  readonly id: string
  /** `weft.local` */
  readonly trustDomain: string
  /** `/ns/default/sa/checkout`; empty for a trust domain's own ID. */
  readonly path: string
}

export interface SpiffeIdRules {
  /** Reject an ID without a path (a trust domain ID), as a workload identity must. Default `true`. */
  requirePath?: boolean
}

/** The longest SPIFFE ID accepted, in bytes (the spec's limit for a URI SAN). */
export const MAX_SPIFFE_ID_BYTES = 2048
/** The longest trust domain name accepted. */
export const MAX_TRUST_DOMAIN_LENGTH = 255
/** The namespace a service's default identity lives in. */
export const DEFAULT_NAMESPACE = 'default'

const SCHEME = 'spiffe://'
const TRUST_DOMAIN = /^[a-z0-9._-]+$/
const SEGMENT = /^[A-Za-z0-9._-]+$/

/** Why `input` is not a valid SPIFFE ID (the first rule it breaks), or `undefined` when it is one. */
export function spiffeIdProblem(input: string, rules: SpiffeIdRules = {}): string | undefined {
  if (typeof input !== 'string' || input.length === 0) return 'is empty'
  if (Buffer.byteLength(input) > MAX_SPIFFE_ID_BYTES) return `is longer than ${MAX_SPIFFE_ID_BYTES} bytes`
  if (!input.startsWith(SCHEME)) return 'scheme must be "spiffe://" (lower case)'
  const rest = input.slice(SCHEME.length)
  const slash = rest.indexOf('/')
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash)
  const path = slash === -1 ? '' : rest.slice(slash)
  if (trustDomain.length === 0) return 'trust domain is missing'
  if (trustDomain.includes('@')) return 'trust domain must not contain userinfo'
  if (trustDomain.includes(':')) return 'trust domain must not contain a port'
  if (input.includes('?')) return 'must not contain a query'
  if (input.includes('#')) return 'must not contain a fragment'
  if (input.includes('%')) return 'must not be percent-encoded'
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH) return `trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`
  if (!TRUST_DOMAIN.test(trustDomain))
    return 'trust domain characters are limited to lower-case letters, numbers, dots, dashes and underscores'
  if (path.length === 0) return rules.requirePath === false ? undefined : 'path is missing (a workload identity needs one)'
  if (path.endsWith('/')) return 'path must not have a trailing slash'
  for (const segment of path.slice(1).split('/')) {
    if (segment.length === 0) return 'path must not contain empty segments'
    if (segment === '.' || segment === '..') return 'path must not contain dot segments'
    if (!SEGMENT.test(segment)) return 'path segment characters are limited to letters, numbers, dots, dashes and underscores'
  }
  return undefined
}

/** Parses a SPIFFE ID; throws `WEFT_INVALID_ARGUMENT` naming the rule it breaks. */
export function parseSpiffeId(input: string, rules: SpiffeIdRules = {}): SpiffeId {
  const problem = spiffeIdProblem(input, rules)
  if (problem !== undefined) {
    throw new WeftError('WEFT_INVALID_ARGUMENT', `invalid SPIFFE ID ${quote(input)}: ${problem}`, {
      details: { spiffeId: clip(input), rule: problem },
    })
  }
  const rest = input.slice(SCHEME.length)
  const slash = rest.indexOf('/')
  return slash === -1
    ? { id: input, trustDomain: rest, path: '' }
    : { id: input, trustDomain: rest.slice(0, slash), path: rest.slice(slash) }
}

/** The trust domain of a SPIFFE ID already known to be valid. */
export function trustDomainOf(id: string): string {
  const rest = id.slice(SCHEME.length)
  const slash = rest.indexOf('/')
  return slash === -1 ? rest : rest.slice(0, slash)
}

/** The namespace of an Istio-shaped ID (`spiffe://td/ns/<namespace>/...`), or `undefined`. */
export function namespaceOf(id: string): string | undefined {
  const rest = id.slice(SCHEME.length)
  const slash = rest.indexOf('/')
  if (slash === -1 || !rest.startsWith('/ns/', slash)) return undefined
  const start = slash + 4
  const end = rest.indexOf('/', start)
  const ns = end === -1 ? rest.slice(start) : rest.slice(start, end)
  return ns.length > 0 ? ns : undefined
}

/** The identity a service has by default: `spiffe://<trustDomain>/ns/<namespace>/sa/<service>`. */
export function serviceSpiffeId(trustDomain: string, service: string, namespace: string = DEFAULT_NAMESPACE): string {
  return parseSpiffeId(`${SCHEME}${trustDomain}/ns/${namespace}/sa/${service}`).id
}

/** The ID of a trust domain itself (`spiffe://weft.local`), as a trust anchor carries it. */
export function trustDomainId(trustDomain: string): string {
  return parseSpiffeId(`${SCHEME}${trustDomain}`, { requirePath: false }).id
}

export function quote(s: string): string {
  return JSON.stringify(clip(s))
}

function clip(s: string): string {
  return typeof s === 'string' && s.length > 120 ? `${s.slice(0, 117)}...` : String(s)
}
