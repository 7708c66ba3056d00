/**
 * Identity-based authorization for the server stack, in Istio's order: DENY rules first, then
 * ALLOW; when ALLOW rules exist and none matches, deny; with no rules, allow. AUDIT rules and
 * dry-run mode log and count but never deny. A denied call fails with `WEFT_UNAUTHORIZED`
 * (a 403) naming the rule that decided.
 */
import { type Call, headerValue, type Middleware, WeftError } from '@weft/core'
import { compileRegexMatcher } from '@weft/policy'
import { compilePathPattern, normalizePath } from './path-match.js'
import { compilePatterns, type Matcher } from './pattern.js'
import { namespaceOf } from './spiffe-id.js'

/** A header matcher: a string (exact) or one of `exact`, `prefix`, `regex` (whole value), `present`. */
export type StringMatch = string | { exact: string } | { prefix: string } | { regex: string } | { present: boolean }

/** One rule, as `services.<name>.authorization[i]` in the policy (the resolved policy's rules fit). */
export interface AuthorizationRule {
  /** Default `ALLOW`. */
  action?: 'ALLOW' | 'DENY' | 'AUDIT'
  /** Principal patterns: an exact SPIFFE ID, `prefix*`, `*suffix` or `*` (any verified identity). Absent: anyone. */
  from?: readonly string[] | undefined
  /** Namespace patterns, read from `ns/<namespace>/` in the caller's SPIFFE ID. Absent: any. */
  namespaces?: readonly string[] | undefined
  to?: { paths?: readonly string[] | undefined; methods?: readonly string[] | undefined } | undefined
  when?: { headers?: Readonly<Record<string, StringMatch>> | undefined } | undefined
}

export interface AuthorizationOptions {
  /** Evaluate and report, but never deny (Istio's dry-run). Default `false`. */
  dryRun?: boolean
  /**
   * Told about every decision that is not a plain allow: a deny (enforced or dry-run) and every
   * AUDIT rule that matched. Default: AUDIT matches and dry-run denies are written as a warning line.
   */
  onDecision?: (decision: AuthorizationDecision) => void
}

export const AUTHORIZATION_DEFAULTS = { dryRun: false } as const

/** What the rules decided for one call. */
export interface AuthorizationDecision {
  /** `deny` (enforced), `would-deny` (dry-run) or `audit` (an AUDIT rule matched). */
  readonly outcome: 'deny' | 'would-deny' | 'audit'
  /** Index of the deciding rule in the service's `authorization` list; `undefined` when no ALLOW rule matched. */
  readonly rule: number | undefined
  /** `authorization[1] (DENY from spiffe://…/batch to POST /charge)` or `no ALLOW rule matched`. */
  readonly reason: string
  readonly service: string
  /** The caller's verified SPIFFE ID; `undefined` for a caller without one. */
  readonly principal: string | undefined
  readonly method: string
  readonly path: string
}

interface CompiledRule {
  readonly index: number
  readonly action: AuthorizationRule['action']
  readonly text: string
  readonly from: Matcher | undefined
  readonly namespaces: Matcher | undefined
  readonly paths: Matcher | undefined
  readonly methods: ReadonlySet<string> | undefined
  readonly headers: readonly [string, (value: string | undefined) => boolean][]
}

/** Compiles a service's rules once; throws `WEFT_INVALID_ARGUMENT` naming a bad rule. */
function compileRules(rules: readonly AuthorizationRule[]): CompiledRule[] {
  return rules.map((rule, index) => {
    try {
      const action = rule.action ?? 'ALLOW'
      // DENY and AUDIT rules match the loose form of paths and methods, so that they can only catch more
      const loose = action !== 'ALLOW'
      const paths = rule.to?.paths
      const pathMatchers = paths?.map((p) => compilePathPattern(loose ? loosePath(p) : p))
      return {
        index,
        action,
        text: describeRule(rule, index),
        from: compilePatterns(rule.from),
        namespaces: compilePatterns(rule.namespaces),
        paths: pathMatchers === undefined ? undefined : (p: string) => pathMatchers.some((m) => m(p)),
        methods: rule.to?.methods === undefined ? undefined : methodSet(rule.to.methods, loose),
        headers: Object.entries(rule.when?.headers ?? {}).map(([name, match]) => [name.toLowerCase(), compileStringMatch(match)] as const),
      }
    } catch (err) {
      throw new WeftError('WEFT_INVALID_ARGUMENT', `authorization[${index}]: ${(err as Error).message}`, {
        cause: err,
        details: { rule: index },
      })
    }
  })
}

/** The authorization layer for one service's rules. With no rules it lets everything through. */
export function authorization(rules: readonly AuthorizationRule[], options: AuthorizationOptions = {}): Middleware {
  const compiled = compileRules(rules)
  const deny = compiled.filter((r) => r.action === 'DENY')
  const allow = compiled.filter((r) => r.action === 'ALLOW')
  const audit = compiled.filter((r) => r.action === 'AUDIT')
  // the loose path is worked out per call only when some DENY or AUDIT rule reads a path
  const loosePaths = [...deny, ...audit].some((r) => r.paths !== undefined)
  const dryRun = options.dryRun ?? AUTHORIZATION_DEFAULTS.dryRun
  const report = options.onDecision ?? defaultReport

  return (next) => {
    if (compiled.length === 0) return next

    return function authorizing(call) {
      const principal = call.peer?.identity
      const path = normalizePath(call.path)
      const loose = loosePaths ? loosePath(path) : path
      for (const r of audit) if (matches(r, call, principal, loose)) report(decision('audit', r, call, principal))
      for (const r of deny) {
        if (matches(r, call, principal, loose)) return refuse(call, principal, r)
      }
      if (allow.length === 0) return next(call)
      for (const r of allow) if (matches(r, call, principal, path)) return next(call)
      return refuse(call, principal, undefined)
    }

    function refuse(call: Call, principal: string | undefined, rule: CompiledRule | undefined) {
      const d = decision(dryRun ? 'would-deny' : 'deny', rule, call, principal)
      report(d)
      if (dryRun) return next(call)
      const who = principal ?? 'a caller without a verified identity'
      return Promise.reject(
        new WeftError('WEFT_UNAUTHORIZED', `${who} may not ${call.method} ${call.path} on ${call.service}: ${d.reason}`, {
          details: {
            service: call.service,
            rule: d.rule,
            reason: d.reason,
            principal: principal ?? null,
            method: call.method,
            path: call.path,
          },
        }),
      )
    }
  }
}

/**
 * A rule's methods, upper case. For DENY and AUDIT rules GET brings HEAD: Express and Fastify answer
 * a HEAD with the GET route's handler, so a DENY on GET must refuse the HEAD that runs it too.
 */
function methodSet(methods: readonly string[], loose: boolean): ReadonlySet<string> {
  const set = new Set(methods.map((m) => m.toUpperCase()))
  if (loose && set.has('GET')) set.add('HEAD')
  return set
}

/**
 * A path as DENY and AUDIT rules compare it: lower case, without one trailing slash. Express routes
 * `/ADMIN` and `/admin/` to `app.get('/admin')` by default (case-insensitive, non-strict routing), so
 * a DENY written for `/admin` must catch them; ALLOW rules compare exactly, so they only let in less.
 */
function loosePath(path: string): string {
  const lower = path.toLowerCase()
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower
}

function matches(r: CompiledRule, call: Call, principal: string | undefined, path: string): boolean {
  if (r.from !== undefined && (principal === undefined || !r.from(principal))) return false
  if (r.namespaces !== undefined) {
    const ns = principal === undefined ? undefined : namespaceOf(principal)
    if (ns === undefined || !r.namespaces(ns)) return false
  }
  if (r.methods !== undefined && !r.methods.has(call.method)) return false
  if (r.paths !== undefined && !r.paths(path)) return false
  for (const [name, test] of r.headers) if (!test(headerValue(call.headers, name))) return false
  return true
}

function decision(
  outcome: AuthorizationDecision['outcome'],
  rule: CompiledRule | undefined,
  call: Call,
  principal: string | undefined,
): AuthorizationDecision {
  return {
    outcome,
    rule: rule?.index,
    reason: rule === undefined ? 'no ALLOW rule matched' : `${outcome === 'audit' ? 'matched' : 'denied by'} ${rule.text}`,
    service: call.service,
    principal,
    method: call.method,
    path: call.path,
  }
}

function defaultReport(d: AuthorizationDecision): void {
  if (d.outcome === 'deny') return
  console.warn(`weft authorization ${d.outcome}: ${d.principal ?? '(no identity)'} ${d.method} ${d.path} on ${d.service}: ${d.reason}`)
}

/** `authorization[1] (DENY from spiffe://…/batch to POST /charge)`, for messages. */
export function describeRule(rule: AuthorizationRule, index: number): string {
  const parts: string[] = [rule.action ?? 'ALLOW']
  if (rule.from !== undefined) parts.push(`from ${rule.from.join(', ')}`)
  if (rule.namespaces !== undefined) parts.push(`namespaces ${rule.namespaces.join(', ')}`)
  const methods = rule.to?.methods
  const paths = rule.to?.paths
  if (methods !== undefined || paths !== undefined) parts.push(`to ${[methods?.join('|'), paths?.join(', ')].filter(Boolean).join(' ')}`)
  if (rule.when?.headers !== undefined) parts.push(`when ${Object.keys(rule.when.headers).join(', ')}`)
  return `authorization[${index}] (${parts.join(' ')})`
}

function compileStringMatch(match: StringMatch): (value: string | undefined) => boolean {
  if (typeof match === 'string') return (v) => v === match
  if ('exact' in match) return (v) => v === match.exact
  if ('prefix' in match) return (v) => v?.startsWith(match.prefix) === true
  if ('present' in match) return (v) => (v !== undefined) === match.present
  // the whole value must match, as in Envoy's safe_regex; the policy refused patterns that are not linear-time
  const re = compileRegexMatcher(match.regex)
  return (v) => v !== undefined && re.test(v)
}
