/** Deadlines in the call context: header codec, propagation, shedding. */
export type { DeadlineOptions } from './deadline.js'
export { DEADLINE_DEFAULTS, deadline, loosestTimeout } from './deadline.js'
export type { InvalidHeaderListener } from './header-codec.js'
export {
  ENVOY_TIMEOUT_HEADER,
  formatGrpcTimeout,
  formatMillis,
  GRPC_TIMEOUT_HEADER,
  parseGrpcTimeout,
  parseMillis,
  readTimeoutHeaders,
} from './header-codec.js'
export type { InboundDeadlineOptions } from './inbound-deadline.js'
export { INBOUND_DEADLINE_DEFAULTS, inboundDeadline } from './inbound-deadline.js'
export type { DeadlineStats } from './stats.js'
export { createDeadlineStats, inboundDeadlineStats } from './stats.js'
