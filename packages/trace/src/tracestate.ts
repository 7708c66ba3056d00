/**
 * The W3C `tracestate` header, handled strictly (Trace Context Level 2, the test suite's
 * STRICT_LEVEL 2): one bad member, more than 32 members or an oversized header discards the whole
 * header, where OpenTelemetry's propagator would drop only the bad member.
 */

/** At most this many list members. */
export const MAX_TRACESTATE_MEMBERS = 32
/** Longer headers are dropped unread (the spec asks for at least 512 characters to be passed on). */
export const MAX_TRACESTATE_INPUT = 8192
/** Passed on at most this long; past it, members longer than 128 characters go first, then the last ones. */
export const MAX_TRACESTATE_OUTPUT = 512

// key: lcalpha or digit, then up to 255 of lcalpha, digit, `_ - * / @` (the suite's grammar, which
// takes multi-tenant keys like `tenant@system` without the old 241/14-character split)
const KEY = /^[a-z0-9][a-z0-9_\-*/@]{0,255}$/
// value: 1–256 printable characters except `,` and `=`, not ending in a space
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/

function isOws(c: number): boolean {
  return c === 32 || c === 9
}

/**
 * Validates and normalises `tracestate` (several headers, or one joined with `,`): members are
 * trimmed of spaces and tabs, empty members skipped, a repeated key keeps its first value, and the
 * result is joined with `,`. `undefined` when the header is absent, empty or invalid.
 */
export function parseTracestate(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  const text = typeof value === 'string' ? value : value.join(',')
  if (text.length === 0 || text.length > MAX_TRACESTATE_INPUT) return undefined
  const members: string[] = []
  const keys: string[] = []
  let from = 0
  while (from <= text.length) {
    let to = text.indexOf(',', from)
    if (to === -1) to = text.length
    let a = from
    let b = to
    while (a < b && isOws(text.charCodeAt(a))) a++
    while (b > a && isOws(text.charCodeAt(b - 1))) b--
    from = to + 1
    if (a === b) continue
    const member = text.slice(a, b)
    const eq = member.indexOf('=')
    if (eq <= 0) return undefined
    const key = member.slice(0, eq)
    if (!KEY.test(key) || !VALUE.test(member.slice(eq + 1))) return undefined
    if (keys.includes(key)) continue
    keys.push(key)
    members.push(member)
    if (members.length > MAX_TRACESTATE_MEMBERS) return undefined
  }
  if (members.length === 0) return undefined
  return truncate(members)
}

/** Cuts a list longer than MAX_TRACESTATE_OUTPUT the way the spec suggests. */
function truncate(members: string[]): string {
  let size = members.reduce((n, m) => n + m.length, members.length - 1)
  if (size <= MAX_TRACESTATE_OUTPUT) return members.join(',')
  for (let i = members.length - 1; i >= 0 && size > MAX_TRACESTATE_OUTPUT; i--) {
    const m = members[i] as string
    if (m.length > 128) {
      members.splice(i, 1)
      size -= m.length + 1
    }
  }
  while (size > MAX_TRACESTATE_OUTPUT && members.length > 0) size -= (members.pop() as string).length + 1
  return members.join(',')
}
