/** A call's fate: the one definition is core's, shared with tracing and the tap. */
export { errorFate, FATES, type Fate, replyFate } from '@weft/core'
