/**
 * B3 propagation (Zipkin), optional beside W3C: the single `b3` header and the `x-b3-*` headers.
 * Read only when no valid `traceparent` came; 64-bit trace ids are widened to 128 bits.
 */
import type { HeaderMap } from '@weft/core'
import type { ParsedTraceparent } from './traceparent.js'

export const B3_HEADER = 'b3'
export const B3_TRACE_ID = 'x-b3-traceid'
export const B3_SPAN_ID = 'x-b3-spanid'
export const B3_SAMPLED = 'x-b3-sampled'
export const B3_FLAGS = 'x-b3-flags'
export const B3_PARENT_SPAN_ID = 'x-b3-parentspanid'

const HEX16 = /^[0-9a-f]{16}$/
const HEX16_OR_32 = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/
const ZEROS = /^0+$/

function ids(traceId: string | undefined, spanId: string | undefined, sampled: number): ParsedTraceparent | undefined {
  if (traceId === undefined || spanId === undefined) return undefined
  if (!HEX16_OR_32.test(traceId) || !HEX16.test(spanId) || ZEROS.test(traceId) || ZEROS.test(spanId)) return undefined
  return { traceId: traceId.length === 16 ? `0000000000000000${traceId}` : traceId, parentId: spanId, flags: sampled }
}

/** Reads `b3: {traceId}-{spanId}[-{sampling}[-{parentSpanId}]]`. */
export function parseB3Single(value: string | string[] | undefined): ParsedTraceparent | undefined {
  if (typeof value !== 'string') return undefined
  const parts = value.trim().split('-')
  if (parts.length < 2 || parts.length > 4) return undefined
  const sampling = parts[2]
  if (sampling !== undefined && sampling !== '0' && sampling !== '1' && sampling !== 'd') return undefined
  return ids(parts[0], parts[1], sampling === '0' ? 0 : 1)
}

/** Reads `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` and `x-b3-flags`. */
export function parseB3Multi(headers: Readonly<HeaderMap>): ParsedTraceparent | undefined {
  const traceId = headers[B3_TRACE_ID]
  const spanId = headers[B3_SPAN_ID]
  if (typeof traceId !== 'string' || typeof spanId !== 'string') return undefined
  const sampled = headers[B3_SAMPLED]
  const debug = headers[B3_FLAGS] === '1'
  const off = sampled === '0' || sampled === 'false'
  return ids(traceId.trim(), spanId.trim(), debug || !off ? 1 : 0)
}

/** The single-header form for an outbound call. */
export function formatB3Single(traceId: string, spanId: string, flags: number): string {
  return `${traceId}-${spanId}-${flags & 1 ? '1' : '0'}`
}
