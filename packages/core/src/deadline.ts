/** A deadline: the instant a call must be done by, carried as a value. */
import { type Clock, systemClock } from './clock.js'

export class Deadline {
  /** Epoch milliseconds by which the call must be done. */
  readonly at: number
  readonly #clock: Clock

  constructor(at: number, clock: Clock = systemClock) {
    this.at = at
    this.#clock = clock
  }

  /** A deadline `ms` from now. */
  static after(ms: number, clock: Clock = systemClock): Deadline {
    return new Deadline(clock.now() + ms, clock)
  }

  /** Milliseconds left, never below 0. */
  remainingMs(): number {
    const left = this.at - this.#clock.now()
    return left > 0 ? left : 0
  }

  get expired(): boolean {
    return this.#clock.now() >= this.at
  }

  /** The earlier of the two; `undefined` counts as no deadline. */
  min(other: Deadline | undefined): Deadline {
    return other === undefined || this.at <= other.at ? this : other
  }

  get clock(): Clock {
    return this.#clock
  }
}

/** The earlier of two optional deadlines. */
export function earliest(a: Deadline | undefined, b: Deadline | undefined): Deadline | undefined {
  if (a === undefined) return b
  return a.min(b)
}
