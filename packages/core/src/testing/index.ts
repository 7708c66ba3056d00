/** Test helpers: a manual clock and a complete call to override. */
export { ManualClock } from './manual-clock.js'
export { testCall } from './test-call.js'
