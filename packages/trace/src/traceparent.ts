/**
 * The W3C `traceparent` header: a strict parser that never throws (anything invalid is
 * `undefined`, and the caller starts a fresh trace) and its formatter.
 */

/** What a valid `traceparent` carries. */
export interface ParsedTraceparent {
  readonly traceId: string
  /** The caller's span: the parent of ours. */
  readonly parentId: string
  /** Trace flags; weft keeps the bits it knows (`01` sampled, `02` random). */
  readonly flags: number
}

/** Trace flags weft understands and passes on: sampled (`01`) and random (`02`, Trace Context Level 2). */
export const KNOWN_FLAGS = 0x03
const LENGTH = 55
const ZERO_TRACE = '00000000000000000000000000000000'
const ZERO_SPAN = '0000000000000000'

/** True for `0-9` and `a-f` only (upper-case hex is invalid on the wire). */
function isLowerHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102)
}

function allLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isLowerHex(s.charCodeAt(i))) return false
  return true
}

function isOws(c: number): boolean {
  return c === 32 || c === 9
}

/**
 * Parses a `traceparent` value. Leading and trailing spaces and tabs are allowed; version `00` must
 * be exactly 55 characters; a future version (`01`–`fe`) may carry more fields after a `-`, and
 * its first four are read; version `ff`, upper-case hex, wrong lengths and all-zero ids are invalid.
 * Two headers joined into one (`a, b`) are invalid.
 */
export function parseTraceparent(value: string | string[] | undefined): ParsedTraceparent | undefined {
  if (typeof value !== 'string') return undefined // absent, or repeated (an array): invalid either way
  let start = 0
  let end = value.length
  while (start < end && isOws(value.charCodeAt(start))) start++
  while (end > start && isOws(value.charCodeAt(end - 1))) end--
  const length = end - start
  if (length < LENGTH) return undefined
  const s = start === 0 && end === value.length ? value : value.slice(start, end)
  if (!allLowerHex(s, 0, 2) || s.charCodeAt(2) !== 45 || s.charCodeAt(35) !== 45 || s.charCodeAt(52) !== 45) return undefined
  const version = s.slice(0, 2)
  if (version === 'ff') return undefined
  if (version === '00' ? length !== LENGTH : length > LENGTH && s.charCodeAt(LENGTH) !== 45) return undefined
  if (!allLowerHex(s, 3, 35) || !allLowerHex(s, 36, 52) || !allLowerHex(s, 53, 55)) return undefined
  const traceId = s.slice(3, 35)
  const parentId = s.slice(36, 52)
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined
  return { traceId, parentId, flags: Number.parseInt(s.slice(53, 55), 16) }
}

const FLAG_TEXT = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Formats a version `00` `traceparent`, with only the flags weft knows. */
export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${FLAG_TEXT[flags & KNOWN_FLAGS]}`
}
