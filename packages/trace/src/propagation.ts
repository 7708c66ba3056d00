/** Reads a call's trace context from its headers and writes one onto an outbound call's headers. */
import { copyHeaders, type HeaderMap, WeftError } from '@weft/core'
import {
  B3_FLAGS,
  B3_HEADER,
  B3_PARENT_SPAN_ID,
  B3_SAMPLED,
  B3_SPAN_ID,
  B3_TRACE_ID,
  formatB3Single,
  parseB3Multi,
  parseB3Single,
} from './b3.js'
import { parseBaggage } from './baggage.js'
import { formatTraceparent, type ParsedTraceparent, parseTraceparent } from './traceparent.js'
import { parseTracestate } from './tracestate.js'

/** Header formats besides W3C trace context, which is always read and written. */
export type Propagator = 'b3' | 'b3multi'

/** The context a request arrived with. */
export interface RemoteContext {
  /** The caller's trace, or `undefined` when none came or it was invalid. */
  readonly parent: ParsedTraceparent | undefined
  /** Only with a valid W3C parent; discarded whole when any member is invalid. */
  readonly traceState: string | undefined
  readonly baggage: string | undefined
}

/** Bit set of the extra propagators in use. */
export const B3_SINGLE = 1
export const B3_MULTI = 2

/** Turns propagator names into the bit set the layers test per call. */
export function propagatorBits(propagators: readonly Propagator[] | undefined): number {
  let bits = 0
  for (const p of propagators ?? []) {
    if (p === 'b3') bits |= B3_SINGLE
    else if (p === 'b3multi') bits |= B3_MULTI
    else throw new WeftError('WEFT_INVALID_ARGUMENT', `unknown propagator ${JSON.stringify(p)}: use 'b3' or 'b3multi'`)
  }
  return bits
}

/** Reads `traceparent`, `tracestate` and `baggage` (and B3 when enabled). Never throws. */
export function extractContext(headers: Readonly<HeaderMap>, bits = 0): RemoteContext {
  let parent = parseTraceparent(headers.traceparent)
  let traceState: string | undefined
  if (parent !== undefined) {
    const ts = headers.tracestate
    if (ts !== undefined) traceState = parseTracestate(ts)
  } else if (bits !== 0) {
    if (bits & B3_SINGLE) parent = parseB3Single(headers[B3_HEADER])
    if (parent === undefined && bits & B3_MULTI) parent = parseB3Multi(headers)
  }
  const bg = headers.baggage
  return { parent, traceState, baggage: bg === undefined ? undefined : parseBaggage(bg) }
}

const B3_NAMES = [B3_HEADER, B3_TRACE_ID, B3_SPAN_ID, B3_SAMPLED, B3_FLAGS, B3_PARENT_SPAN_ID]

/**
 * A copy of `headers` carrying the given context: `traceparent` always, `tracestate` and `baggage`
 * when there are any (what the caller sent is replaced), B3 when enabled.
 */
export function injectContext(
  headers: Readonly<HeaderMap>,
  traceId: string,
  spanId: string,
  flags: number,
  traceState: string | undefined,
  baggage: string | undefined,
  bits = 0,
): HeaderMap {
  const out = copyHeaders(headers)
  out.traceparent = formatTraceparent(traceId, spanId, flags)
  // `delete` goes to the runtime (~300 instructions) even for a header that is not there: test first
  if (traceState !== undefined) out.tracestate = traceState
  else if (out.tracestate !== undefined) delete out.tracestate
  if (baggage !== undefined) out.baggage = baggage
  else if (out.baggage !== undefined) delete out.baggage
  if (bits !== 0) {
    for (const name of B3_NAMES) if (out[name] !== undefined) delete out[name]
    if (bits & B3_SINGLE) out[B3_HEADER] = formatB3Single(traceId, spanId, flags)
    if (bits & B3_MULTI) {
      out[B3_TRACE_ID] = traceId
      out[B3_SPAN_ID] = spanId
      out[B3_SAMPLED] = flags & 1 ? '1' : '0'
    }
  }
  return out
}
