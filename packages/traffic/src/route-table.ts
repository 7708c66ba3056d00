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

export function routeTable<R extends TableRoute>(routes: readonly R[]): RouteTable<R> {
  const exactPath = new Map<string, number[]>()
  const prefixes = new Map<number, Map<string, number[]>>() // by prefix length
  const headerExact = new Map<string, Map<string, number[]>>()
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
      let byLen = prefixes.get(path.prefix.length)
      if (byLen === undefined) prefixes.set(path.prefix.length, (byLen = new Map()))
      add(byLen, path.prefix, i)
      continue
    }
    const header = block === undefined ? undefined : Object.entries(block.headers).find(([, m]) => 'exact' in m)
    if (header !== undefined) {
      let byValue = headerExact.get(header[0])
      if (byValue === undefined) headerExact.set(header[0], (byValue = new Map()))
      add(byValue, (header[1] as { exact: string }).exact, i)
      continue
    }
    scanned.push(i)
  }
  const prefixLengths = [...prefixes.keys()].sort((a, b) => a - b)

  return {
    find(call) {
      const path = call.path
      const q = path.indexOf('?')
      const bare = q < 0 ? path : path.slice(0, q)
      let best = Number.POSITIVE_INFINITY
      // every candidate list is in route order: the first that matches is the best it can give
      const consider = (list: number[] | undefined) => {
        if (list === undefined) return
        for (const i of list) {
          if (i >= best) return
          if ((routes[i] as R).matcher.matches(call, bare, q)) {
            best = i
            return
          }
        }
      }
      consider(exactPath.get(bare))
      for (const len of prefixLengths) {
        if (len > bare.length) break
        consider(prefixes.get(len)?.get(len === bare.length ? bare : bare.slice(0, len)))
      }
      for (const [name, byValue] of headerExact) {
        const v = headerValue(call.headers, name)
        if (v !== undefined) consider(byValue.get(v))
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
