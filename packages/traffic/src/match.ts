/** Route matchers compiled once per policy version: a call is tested with plain comparisons, no allocation. */
import { type Call, headerValue } from '@weft/core'
import { compileRegexMatcher, type RouteMatch, type StringMatch } from '@weft/policy'

type Test = (value: string | undefined) => boolean

/** One match block: every condition in it must hold. */
interface CompiledBlock {
  readonly path: Test | undefined
  readonly methods: ReadonlySet<string> | undefined
  readonly headers: readonly (readonly [string, Test])[]
  readonly query: readonly (readonly [string, Test])[]
}

/** A route's matcher: its blocks are OR; no blocks matches everything. */
export interface Matcher {
  /** `bare` is the call's path without its query; `q` the index of its `?` (or -1). */
  matches(call: Call, bare: string, q: number): boolean
  /** True when a block reads the query string (parsed only for such routes). */
  readonly needsQuery: boolean
}

export function compileString(m: StringMatch): Test {
  if ('exact' in m) {
    const x = m.exact
    return (v) => v === x
  }
  if ('prefix' in m) {
    const x = m.prefix
    return (v) => v?.startsWith(x) === true
  }
  if ('regex' in m) {
    // the policy refused catastrophic shapes at load; the whole value must match, as Envoy's safe_regex
    const re = compileRegexMatcher(m.regex)
    return (v) => v !== undefined && v.length <= MAX_REGEX_INPUT && re.test(v)
  }
  return m.present ? (v) => v !== undefined : (v) => v === undefined
}

/** Values longer than this never match a regex: a bound on work whatever the pattern. */
const MAX_REGEX_INPUT = 8192

export function compileMatches(blocks: readonly RouteMatch[]): Matcher {
  const compiled: CompiledBlock[] = blocks.map((b) => ({
    path: b.path === undefined ? undefined : compileString(b.path),
    methods: b.methods === undefined ? undefined : new Set(b.methods),
    headers: Object.entries(b.headers).map(([name, m]) => [name, compileString(m)] as const),
    query: Object.entries(b.query).map(([name, m]) => [name, compileString(m)] as const),
  }))
  const needsQuery = compiled.some((b) => b.query.length > 0)
  if (compiled.length === 0) return { matches: () => true, needsQuery }
  return {
    needsQuery,
    matches(call, bare, q) {
      const path = call.path
      let query: URLSearchParams | undefined
      for (const b of compiled) {
        if (b.methods !== undefined && !b.methods.has(call.method)) continue
        if (b.path !== undefined && !b.path(bare)) continue
        let ok = true
        for (const [name, test] of b.headers) {
          if (!test(headerValue(call.headers, name))) {
            ok = false
            break
          }
        }
        if (!ok) continue
        if (b.query.length > 0) {
          query ??= new URLSearchParams(q < 0 ? '' : path.slice(q + 1))
          for (const [name, test] of b.query) {
            if (!test(query.get(name) ?? undefined)) {
              ok = false
              break
            }
          }
          if (!ok) continue
        }
        return true
      }
      return false
    },
  }
}
