import type { Reply } from '../src/index.js'
import { testCall } from '../src/testing/index.js'

export const fakeCall = testCall

export function okReply(status = 200): Reply {
  return { status, headers: {}, body: undefined }
}
