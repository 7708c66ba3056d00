/**
 * Identity patterns: an exact string, or one with `*` standing for any run of characters
 * (`spiffe://weft.local/ns/payments/*`, `*\/sa/checkout`, `*`). Matching is linear; no regex.
 */

/** Tests a value against one pattern; built once per pattern. */
export type Matcher = (value: string) => boolean

/** Compiles a pattern with `*` wildcards. */
export function compilePattern(pattern: string): Matcher {
  if (pattern === '*') return () => true
  if (!pattern.includes('*')) return (value) => value === pattern
  const parts = pattern.split('*')
  const first = parts[0] as string
  const last = parts[parts.length - 1] as string
  const middle = parts.slice(1, -1).filter((p) => p.length > 0)
  const minLength = parts.reduce((n, p) => n + p.length, 0)
  return (value) => {
    if (value.length < minLength || !value.startsWith(first) || !value.endsWith(last)) return false
    // greedy leftmost placement of each middle part is enough for `*`-only globs
    let at = first.length
    const end = value.length - last.length
    for (const part of middle) {
      const found = value.indexOf(part, at)
      if (found === -1 || found + part.length > end) return false
      at = found + part.length
    }
    return true
  }
}

/** A matcher for any of several patterns; `undefined` when the list is absent (matches anything). */
export function compilePatterns(patterns: readonly string[] | undefined): Matcher | undefined {
  if (patterns === undefined) return undefined
  const matchers = patterns.map(compilePattern)
  if (matchers.length === 1) return matchers[0]
  return (value) => {
    for (const m of matchers) if (m(value)) return true
    return false
  }
}
