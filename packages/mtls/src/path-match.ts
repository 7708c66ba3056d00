/**
 * Path matching for authorization rules: exact (`/charge`), prefix (`/api/*`), suffix (`*.json`),
 * any (`*`) and templates (`/orders/{*}/items`, `/static/{**}`), on a normalized path so that
 * `/./admin`, `//admin`, `/%61dmin` and `http://host/admin` cannot slip past a rule written for `/admin`.
 */
import { originForm } from '@weft/core'
import { compilePattern, type Matcher } from './pattern.js'

// a query or fragment, an escape, a dot segment, a repeated slash, a backslash, or no leading slash
const NEEDS_NORMALIZING = /[?#%]|\/\.|\/\/|\\|^(?!\/)/

/**
 * The path as rules see it: absolute, no query or fragment, percent-encoded unreserved characters
 * decoded (a stray `%` encoded as `%25`), `.` and `..` segments resolved, repeated slashes merged
 * (Envoy's `normalize_path` and `merge_slashes`). Normalizing it again changes nothing. Paths that
 * need none of it are returned as they are, without allocating.
 */
export function normalizePath(raw: string): string {
  if (!NEEDS_NORMALIZING.test(raw)) return raw
  // an absolute-form target (`http://host/admin`) is its path; the adapters pass origin form already
  let path = originForm(raw)
  const cut = path.search(/[?#]/)
  if (cut !== -1) path = path.slice(0, cut)
  path = path.replace(/\\/g, '/')
  // one pass: a stray `%` becomes `%25`, so that no decoded character can complete a new escape
  // with it (`/%%32%65` must not read as `/%2e` and then, normalized again, as `/.`)
  path = path.replace(/%([0-9A-Fa-f]{2})?/g, (m, hex: string | undefined) => {
    if (hex === undefined) return '%25'
    const c = String.fromCharCode(Number.parseInt(hex, 16))
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase()
  })
  const out: string[] = []
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  const trailing = path.length > 1 && path.endsWith('/') ? '/' : ''
  return `/${out.join('/')}${out.length > 0 ? trailing : ''}`
}

/** Compiles one path pattern. */
export function compilePathPattern(pattern: string): Matcher {
  if (!pattern.includes('{')) return compilePattern(pattern)
  const parts = pattern.split('/')
  let source = '^'
  parts.forEach((part, i) => {
    if (i > 0) source += '/'
    if (part === '{**}') {
      if (i !== parts.length - 1) throw new Error(`path template ${pattern}: {**} must be the last segment`)
      source += '.*'
    } else if (part === '{*}') {
      source += '[^/]+'
    } else if (part.includes('{') || part.includes('}')) {
      throw new Error(`path template ${pattern}: a segment is either literal, {*} or {**}`)
    } else {
      source += part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')
    }
  })
  // a template is literal segments and single-segment classes: linear, no backtracking blow-up
  const re = new RegExp(`${source}$`)
  return (path) => re.test(path)
}
