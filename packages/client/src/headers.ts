/** Turns the header shapes undici and fetch hand a dispatcher into one lower-case map. */
import { ATTEMPT_HEADER, type HeaderMap } from '@weft/core'

type RawHeaders = Record<string, unknown> | readonly unknown[] | Iterable<readonly [string, unknown]> | null | undefined

/**
 * Normalises dispatch headers (an object, a flat `[name, value, …]` array, or an iterable of pairs)
 * into one map with lower-case names (a `__proto__` header is dropped), setting `host` to the authority the caller wrote
 * unless it sent its own, and, for `firstTry`, `x-weft-attempt: 1`.
 */
export function normalizeHeaders(raw: RawHeaders, authority: string, firstTry = false): HeaderMap {
  // a plain object copies several times faster than a null-prototype one in every later spread;
  // `__proto__` is the one name that could reach the prototype, and `add` drops it
  const out: HeaderMap = {}
  if (raw != null) {
    if (Array.isArray(raw)) {
      if (raw.length > 0 && Array.isArray(raw[0])) {
        for (const pair of raw as [string, unknown][]) add(out, pair[0], pair[1])
      } else {
        for (let i = 0; i + 1 < raw.length; i += 2) add(out, raw[i], raw[i + 1])
      }
    } else if (typeof (raw as Iterable<unknown>)[Symbol.iterator] === 'function' && !isPlainObject(raw)) {
      for (const [name, value] of raw as Iterable<readonly [string, unknown]>) add(out, name, value)
    } else {
      const obj = raw as Record<string, unknown>
      for (const name of Object.keys(obj)) add(out, name, obj[name])
    }
  }
  if (!Object.hasOwn(out, 'host')) out.host = authority
  // a mesh call's first try, stamped here where the map is made, so the retry layer need not copy it
  // to stamp it (the caller's own value never decides anything: it is overwritten)
  if (firstTry) out[ATTEMPT_HEADER] = '1'
  return out
}

function isPlainObject(v: unknown): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function add(out: HeaderMap, name: unknown, value: unknown) {
  if (value === undefined || value === null) return
  const key = String(name).toLowerCase()
  if (key === '__proto__') return
  const v = Array.isArray(value) ? value.map(String) : String(value)
  const prev = Object.hasOwn(out, key) ? out[key] : undefined
  if (prev === undefined) out[key] = v
  else out[key] = ([] as string[]).concat(prev, v)
}

/** A header map as undici's flat raw array (`[name, value, …]`), for handlers that read `rawHeaders`. */
export function toRawHeaders(headers: Readonly<HeaderMap>): string[] {
  const raw: string[] = []
  for (const name in headers) {
    const v = headers[name]
    if (v === undefined) continue
    if (Array.isArray(v)) for (const x of v) raw.push(name, x)
    else raw.push(name, v)
  }
  return raw
}
