/** How long to wait before a retry: full-jitter exponential backoff, or what the upstream asked for. */
import { headerValue, type Reply } from '@weft/core'

/** Full jitter (AWS, Envoy, Linkerd): uniform in [0, min(max, base × 2^(retry − 1))). */
export function fullJitter(retry: number, base: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, base * 2 ** (retry - 1))
  return random() * ceiling
}

/** `NEVER` when the upstream said not to retry (an invalid or negative `grpc-retry-pushback-ms`). */
export const NEVER = -1

/**
 * The delay a reply asks for, in ms: `grpc-retry-pushback-ms`, else `Retry-After` (seconds or an
 * HTTP date); `undefined` when it asks for none (use the backoff), `NEVER` when gRPC says stop.
 */
export function pushback(reply: Reply, now: number): number | undefined {
  const grpc = headerValue(reply.headers, 'grpc-retry-pushback-ms')
  if (grpc !== undefined) return /^[0-9]{1,10}$/.test(grpc) ? Number(grpc) : NEVER
  const after = headerValue(reply.headers, 'retry-after')
  if (after === undefined || after.length > 64) return undefined
  if (/^[0-9]{1,9}$/.test(after)) return Number(after) * 1000
  const at = Date.parse(after)
  if (Number.isNaN(at)) return undefined
  return at > now ? at - now : 0
}
