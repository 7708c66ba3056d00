/**
 * A service's routes as a lookup table: first match wins, as written, but a call is not tested
 * against every route. Routes whose one match block names an exact path, a path prefix or an exact
 * header value are indexed by it; only the rest are scanned in order, and only up to the best
 * indexed candidate. With 1 000 prefix and header routes a call looks at a handful.
 */
import { type Call, headerValue } from '@weft/core'
import type { RouteMatch } from '@weft/policy'
import type { Matcher } from './match.js'

export interface TableRoute {
  readonly match: readonly RouteMatch[]
  readonly matcher: Matcher
}

export interface RouteTable<R extends TableRoute> {
  /** The first route, in order, whose match holds; `undefined` when none does. */
  find(call: Call): R | undefined
}

/** A character trie of path prefixes: walking a path meets every prefix of it without slicing it. */
interface PrefixNode {
  children: Map<number, PrefixNode> | undefined
  /** Routes whose prefix ends here, in route order. */
  routes: number[] | undefined
}

export function routeTable<R extends TableRoute>(routes: readonly R[]): RouteTable<R> {
  const exactPath = new Map<string, number[]>()
  const prefixRoot: PrefixNode = { children: undefined, routes: undefined }
  // exact header values, by header name: parallel arrays so a call walks them without an iterator
  const headerNames: string[] = []
  const headerValues: Map<string, number[]>[] = []
  const scanned: number[] = []
  const add = <K>(m: Map<K, number[]>, k: K, i: number) => {
    const list = m.get(k)
    if (list === undefined) m.set(k, [i])
    else list.push(i)
  }

  for (let i = 0; i < routes.length; i++) {
    const r = routes[i] as R
    const block = r.match.length === 1 ? r.match[0] : undefined
    const path = block?.path
    if (block !== undefined && path !== undefined && 'exact' in path) {
      add(exactPath, path.exact, i)
      continue
    }
    if (block !== undefined && path !== undefined && 'prefix' in path) {
      let node = prefixRoot
      for (let c = 0; c < path.prefix.length; c++) {
        const code = path.prefix.charCodeAt(c)
        node.children ??= new Map()
        let child = node.children.get(code)
        if (child === undefined) node.children.set(code, (child = { children: undefined, routes: undefined }))
        node = child
      }
      if (node.routes === undefined) node.routes = [i]
      else node.routes.push(i)
      continue
    }
    const header = block === undefined ? undefined : Object.entries(block.headers).find(([, m]) => 'exact' in m)
    if (header !== undefined) {
      let h = headerNames.indexOf(header[0])
      if (h < 0) {
        h = headerNames.push(header[0]) - 1
        headerValues.push(new Map())
      }
      add(headerValues[h] as Map<string, number[]>, (header[1] as { exact: string }).exact, i)
      continue
    }
    scanned.push(i)
  }

  return {
    find(call) {
      const path = call.path
      const q = path.indexOf('?')
      const bare = q < 0 ? path : path.slice(0, q)
      let best = firstMatch(routes, exactPath.get(bare), Number.POSITIVE_INFINITY, call, bare, q)
      let node: PrefixNode | undefined = prefixRoot
      for (let c = 0; node !== undefined; c++) {
        if (node.routes !== undefined) best = firstMatch(routes, node.routes, best, call, bare, q)
        if (c >= bare.length || node.children === undefined) break
        node = node.children.get(bare.charCodeAt(c))
      }
      for (let h = 0; h < headerNames.length; h++) {
        const v = headerValue(call.headers, headerNames[h] as string)
        if (v !== undefined) best = firstMatch(routes, (headerValues[h] as Map<string, number[]>).get(v), best, call, bare, q)
      }
      for (const i of scanned) {
        if (i >= best) break
        if ((routes[i] as R).matcher.matches(call, bare, q)) {
          best = i
          break
        }
      }
      return best === Number.POSITIVE_INFINITY ? undefined : routes[best]
    },
  }
}

/** The first route of `list` (in route order) before `best` that matches, else `best`. */
function firstMatch(
  routes: readonly TableRoute[],
  list: readonly number[] | undefined,
  best: number,
  call: Call,
  bare: string,
  q: number,
): number {
  if (list === undefined) return best
  for (const i of list) {
    if (i >= best) return best
    if ((routes[i] as TableRoute).matcher.matches(call, bare, q)) return i
  }
  return best
}
