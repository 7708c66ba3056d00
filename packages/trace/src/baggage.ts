/** The W3C `baggage` header, checked just enough to be passed on safely: weft never reads its entries. */

/** Longer headers are dropped (the spec's limit for what a platform must pass on). */
export const MAX_BAGGAGE_BYTES = 8192
/** More members than this and the header is dropped. */
export const MAX_BAGGAGE_MEMBERS = 180

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * The `baggage` header to pass on, or `undefined` when it is absent, too long, has too many members,
 * holds characters outside printable ASCII, or has a member whose key is not a token.
 */
export function parseBaggage(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  const text = typeof value === 'string' ? value : value.join(',')
  if (text.length === 0 || text.length > MAX_BAGGAGE_BYTES) return undefined
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if ((c < 0x20 && c !== 9) || c > 0x7e) return undefined
  }
  const members = text.split(',')
  if (members.length > MAX_BAGGAGE_MEMBERS) return undefined
  let kept = 0
  for (const member of members) {
    const entry = member.split(';', 1)[0] as string
    if (entry.trim() === '') continue
    const eq = entry.indexOf('=')
    if (eq <= 0 || !TOKEN.test(entry.slice(0, eq).trim())) return undefined
    kept++
  }
  return kept === 0 ? undefined : text.trim()
}
