/**
 * Live call summaries for `/tap`: a fan-out to subscribers, each with a fixed-size buffer. A
 * subscriber that does not keep up loses the newest events (counted), so a reader that never reads
 * holds at most `capacity` events — publishing never blocks and never grows memory.
 */
import type { Direction } from '@weft/core'
import type { Fate } from './fate.js'

/** One finished call, as `weft tap` prints it. */
export interface TapEvent {
  /** Epoch milliseconds when the call ended. */
  readonly time: number
  readonly direction: Direction
  readonly service: string
  /** The route's name; empty when no route was matched. */
  readonly route: string
  readonly method: string
  readonly authority: string
  /** Path and query, cut to 512 characters. */
  readonly path: string
  /** The response status, or 0 when the call failed without one. */
  readonly status: number
  readonly latencyMs: number
  /** Tries it took (1 for inbound calls). */
  readonly attempts: number
  readonly fate: Fate
  /** The weft error code when it failed with one. */
  readonly error?: string | undefined
  /** The caller's verified SPIFFE identity (inbound, with mTLS). */
  readonly peer?: string | undefined
  readonly traceId?: string | undefined
}

/** Which events a subscriber wants; every given field must match. */
export interface TapFilter {
  direction?: Direction
  service?: string
  route?: string
  /** A path prefix. */
  path?: string
  method?: string
}

export interface TapSubscribeOptions {
  /** Events buffered for this subscriber at most; past it new events are dropped. Default `256`. */
  capacity?: number
  /** Called when events arrive while the buffer was empty (at most once until `shift()` empties it). */
  onReadable?: () => void
}

export const TAP_DEFAULTS = { capacity: 256, maxCapacity: 10_000 } as const

export interface TapSubscription {
  /** The oldest buffered event, removed; `undefined` when none is waiting. */
  shift(): TapEvent | undefined
  /** Events waiting now. */
  readonly buffered: number
  /** Events lost because the buffer was full. */
  readonly dropped: number
  readonly capacity: number
  close(): void
}

/** A source of call summaries: what the admin endpoint's `/tap` reads. */
export interface TapSource {
  subscribe(filter?: TapFilter, options?: TapSubscribeOptions): TapSubscription
}

class Subscriber implements TapSubscription {
  readonly capacity: number
  dropped = 0
  readonly #ring: (TapEvent | undefined)[]
  readonly #filter: TapFilter
  readonly #onReadable: (() => void) | undefined
  readonly #tap: Tap
  #head = 0
  #size = 0
  #notified = false

  constructor(tap: Tap, filter: TapFilter, options: TapSubscribeOptions) {
    const capacity = options.capacity ?? TAP_DEFAULTS.capacity
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > TAP_DEFAULTS.maxCapacity)
      throw new RangeError(`tap capacity must be an integer from 1 to ${TAP_DEFAULTS.maxCapacity}, got ${capacity}`)
    this.capacity = capacity
    this.#ring = new Array(capacity)
    this.#filter = filter
    this.#onReadable = options.onReadable
    this.#tap = tap
  }

  get buffered(): number {
    return this.#size
  }

  offer(event: TapEvent): void {
    const f = this.#filter
    if (f.direction !== undefined && f.direction !== event.direction) return
    if (f.service !== undefined && f.service !== event.service) return
    if (f.route !== undefined && f.route !== event.route) return
    if (f.method !== undefined && f.method !== event.method) return
    if (f.path !== undefined && !event.path.startsWith(f.path)) return
    if (this.#size === this.capacity) {
      this.dropped++
      return
    }
    this.#ring[(this.#head + this.#size) % this.capacity] = event
    this.#size++
    if (!this.#notified && this.#onReadable !== undefined) {
      this.#notified = true
      this.#onReadable()
    }
  }

  shift(): TapEvent | undefined {
    if (this.#size === 0) {
      this.#notified = false
      return undefined
    }
    const event = this.#ring[this.#head]
    this.#ring[this.#head] = undefined
    this.#head = (this.#head + 1) % this.capacity
    this.#size--
    return event
  }

  close(): void {
    this.#tap.remove(this)
    this.#ring.fill(undefined)
    this.#size = 0
  }
}

/** The fan-out the metrics layers publish into. */
export class Tap implements TapSource {
  #subscribers: Subscriber[] = []

  /** True while someone listens; publishers build no event otherwise. */
  get active(): boolean {
    return this.#subscribers.length > 0
  }

  get subscribers(): number {
    return this.#subscribers.length
  }

  publish(event: TapEvent): void {
    for (const s of this.#subscribers) s.offer(event)
  }

  subscribe(filter: TapFilter = {}, options: TapSubscribeOptions = {}): TapSubscription {
    const s = new Subscriber(this, { ...filter }, options)
    this.#subscribers = [...this.#subscribers, s]
    return s
  }

  /** @internal */
  remove(s: TapSubscription): void {
    this.#subscribers = this.#subscribers.filter((x) => x !== s)
  }
}
