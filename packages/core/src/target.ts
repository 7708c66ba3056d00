/** HTTP request targets (RFC 9112 §3.2) as the layers read them. */

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/

/**
 * A request target in origin form, `/path?query`. An absolute-form target (`GET http://host/admin`,
 * as a proxy-style client sends it; Node hands it on as `req.url`) loses its scheme and authority,
 * so that authorization sees the path the application routes on, not one no rule matches. Origin
 * form comes back as it is, without allocating; anything else (`*`, garbage) too.
 */
export function originForm(target: string): string {
  if (target.charCodeAt(0) === 47 /* / */) return target
  const sep = target.indexOf('://')
  if (sep <= 0 || !SCHEME.test(target.slice(0, sep))) return target
  let i = sep + 3
  for (; i < target.length; i++) {
    const c = target.charCodeAt(i)
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break
  }
  if (i === target.length) return '/'
  return target.charCodeAt(i) === 47 ? target.slice(i) : `/${target.slice(i)}`
}
