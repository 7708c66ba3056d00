/**
 * A streamed request body kept for replay: the first try streams it as it comes while a copy of up
 * to `bufferLimit` bytes is kept (Envoy's retry buffer); a retry resends the copy once the whole
 * body is in it. A body past the limit, or one that failed part-way, is sent once.
 */

/** Why a body cannot be sent again. */
export type ReplayRefusal = 'body-too-large' | 'body-not-replayable'

export class ReplayBody {
  readonly #source: AsyncIterable<unknown> | Iterable<unknown>
  readonly #limit: number
  readonly #expected: number | undefined
  #chunks: Uint8Array[] = []
  #size = 0
  #overflow = false
  #complete = false
  #started = false
  #replay: Buffer | undefined

  /** `expected` is the `content-length` the caller sent, when it sent one. */
  constructor(source: AsyncIterable<unknown> | Iterable<unknown>, limit: number, expected: number | undefined) {
    this.#source = source
    this.#limit = limit
    this.#expected = expected
  }

  /** A body that can be watched for replay: an async or sync iterable of bytes or strings. */
  static accepts(body: unknown): body is AsyncIterable<unknown> | Iterable<unknown> {
    if (typeof body !== 'object' || body === null) return false
    return (
      typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
      typeof (body as Iterable<unknown>)[Symbol.iterator] === 'function'
    )
  }

  /**
   * The body for the next try: the kept copy once the whole body is in it; a fresh recording pass
   * when the source was never touched (a connect failure); `undefined` when it cannot be sent again.
   */
  next(): unknown {
    if (this.#isComplete()) return (this.#replay ??= Buffer.concat(this.#chunks, this.#size))
    if (!this.#started) return this.#record()
    return undefined
  }

  /** Why `next()` would give nothing; `undefined` when it can be sent again. */
  refusal(): ReplayRefusal | undefined {
    if (this.#isComplete() || !this.#started) return undefined
    return this.#overflow ? 'body-too-large' : 'body-not-replayable'
  }

  get limit(): number {
    return this.#limit
  }

  #isComplete(): boolean {
    if (this.#overflow) return false
    return this.#complete || (this.#expected !== undefined && this.#size === this.#expected && this.#started)
  }

  async *#record(): AsyncGenerator<Uint8Array> {
    this.#started = true
    for await (const chunk of this.#source as AsyncIterable<unknown>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array)
      if (!this.#overflow) {
        if (this.#size + bytes.byteLength > this.#limit) {
          this.#overflow = true
          this.#chunks = []
        } else {
          this.#chunks.push(bytes)
          this.#size += bytes.byteLength
        }
      }
      yield bytes
    }
    this.#complete = true
  }
}
