/** The call model: Call, Reply, Handler, Middleware, compose, the call context, errors, deadlines and clocks. */
export type {
  BodySink,
  Call,
  CallFields,
  Direction,
  Endpoint,
  EndpointSource,
  HeaderMap,
  Peer,
  Reply,
  ReplyBody,
  TraceContext,
} from './call.js'
export { copyCall, derive, headerValue, withAttempt } from './call.js'
export type { AbortWatcher, CallScope } from './call-scope.js'
export { AbortScope, abortReason, isAborted, signalOf } from './call-scope.js'
export type { Outcome, OutcomeKind, Verdict } from './classify.js'
export { classify, errorKind, nothingSent, outcomeKind } from './classify.js'
export type { Clock, TimerHandle } from './clock.js'
export { clampTimerMs, holdOpen, sleepWith, systemClock } from './clock.js'
export type { Handler, Middleware } from './compose.js'
export { compose, toAsync } from './compose.js'
export type { CurrentCall } from './context.js'
export { activeCall, currentCall, runWithCall } from './context.js'
export { Deadline, earliest } from './deadline.js'
export type { Duration } from './duration.js'
export { formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js'
export type { WeftErrorCode, WeftErrorOptions } from './errors.js'
export { ERROR_CODES, findCause, isWeftError, WeftError, warnAside, weftErrorOf } from './errors.js'
export type { Fate } from './fate.js'
export { errorFate, FATES, replyFate } from './fate.js'
export {
  ATTEMPT_HEADER,
  copyHeaders,
  DEADLINE_HEADERS,
  formatGrpcTimeout,
  formatMillis,
  GRPC_TIMEOUT_HEADER,
  IDEMPOTENCY_KEY_HEADER,
  stampTimeout,
  TIMEOUT_HEADER,
  TRACE_HEADERS,
} from './headers.js'
export { LinkedSignal } from './linked-signal.js'
export type { BuiltStack, Layer } from './stack.js'
export { buildStack, describeStack, layer } from './stack.js'
export { originForm } from './target.js'
export type { TimerQueue } from './timer-queue.js'
export { createTimerQueue } from './timer-queue.js'
