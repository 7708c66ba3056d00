/** Test helpers: a manual clock. */
export { ManualClock } from './manual-clock.js'
