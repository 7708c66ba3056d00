/** Counters of the inbound deadline layer, for the metrics layer to read: plain numbers, no allocation per call. */
import { TIMEOUT_HEADER } from '@weft/core'
import { ENVOY_TIMEOUT_HEADER, GRPC_TIMEOUT_HEADER } from './header-codec.js'

export interface DeadlineStats {
  /** Invalid deadline header values seen (ignored), by header name. */
  readonly invalid: { [TIMEOUT_HEADER]: number; [GRPC_TIMEOUT_HEADER]: number; [ENVOY_TIMEOUT_HEADER]: number }
  /** Requests answered 504 because they arrived with no time left. */
  shed: number
  /** Requests whose deadline was cut to `maxInboundTimeout` (or raised to `minInboundTimeout`). */
  clamped: number
  /** Requests whose deadline passed while the handler was running (its signal fired). */
  expired: number
}

/** A fresh set of counters. */
export function createDeadlineStats(): DeadlineStats {
  return { invalid: { [TIMEOUT_HEADER]: 0, [GRPC_TIMEOUT_HEADER]: 0, [ENVOY_TIMEOUT_HEADER]: 0 }, shed: 0, clamped: 0, expired: 0 }
}

/** The counters every inbound deadline layer of the process adds to unless given its own. */
export const inboundDeadlineStats: DeadlineStats = createDeadlineStats()
