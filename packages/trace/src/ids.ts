/**
 * Trace and span ids without a syscall per call: random bytes are drawn in blocks, hex-encoded
 * once, and handed out as slices of that block.
 */
import { randomFillSync } from 'node:crypto'

/**
 * Bytes drawn from the system at a time: enough for 1 024 trace ids or 2 048 span ids. A draw costs
 * about 7 µs whatever its size up to here (4 096 bytes spent ~40 ns per call on it); the hex text
 * (32 KiB) still fits a regular heap object, where a 64 KiB block's costs 100× more to make.
 */
const BLOCK_BYTES = 16_384

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
  /** The next unused byte; the block is drawn on first use. */
  let at = BLOCK_BYTES

  /** The next `n` bytes as hex, never all zero (tested on the bytes: comparing sliced strings goes to the runtime). */
  function take(n: number): string {
    for (;;) {
      if (at + n > BLOCK_BYTES) {
        randomFillSync(bytes)
        hex = bytes.toString('hex')
        at = 0
      }
      const from = at
      at += n
      for (let i = from; i < at; i++) if (bytes[i] !== 0) return hex.slice(2 * from, 2 * at)
    }
  }

  return {
    traceId: () => take(16),
    spanId: () => take(8),
  }
}

/** The process's shared generator. */
export const ids: IdGenerator = createIdGenerator()
