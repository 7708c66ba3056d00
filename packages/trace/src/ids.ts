/**
 * Trace and span ids without a syscall per call: random bytes are drawn in blocks, hex-encoded
 * once, and handed out as slices of that block.
 */
import { randomFillSync } from 'node:crypto'

/** Bytes drawn from the system at a time: enough for 256 trace ids or 512 span ids. */
const BLOCK_BYTES = 4096
const ZERO_SPAN = '0000000000000000'
const ZERO_TRACE = '00000000000000000000000000000000'

export interface IdGenerator {
  /** 32 lower-case hex characters, never all zero. */
  traceId(): string
  /** 16 lower-case hex characters, never all zero. */
  spanId(): string
}

/** A generator over its own pool of random bytes. */
export function createIdGenerator(): IdGenerator {
  const bytes = Buffer.allocUnsafe(BLOCK_BYTES)
  let hex = ''
  let at = hex.length

  function take(chars: number): string {
    if (at + chars > hex.length) {
      randomFillSync(bytes)
      hex = bytes.toString('hex')
      at = 0
    }
    const id = hex.slice(at, at + chars)
    at += chars
    return id
  }

  return {
    traceId() {
      let id = take(32)
      while (id === ZERO_TRACE) id = take(32)
      return id
    },
    spanId() {
      let id = take(16)
      while (id === ZERO_SPAN) id = take(16)
      return id
    },
  }
}

/** The process's shared generator. */
export const ids: IdGenerator = createIdGenerator()
