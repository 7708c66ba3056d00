/**
 * The retry budget, with Finagle's and Linkerd's semantics: every request deposits, every retry
 * (or hedge) withdraws, deposits and withdrawals expire after `window`, and a reserve of
 * `minPerSecond × window` retries is always there for services with little traffic. O(1) per call.
 */
import { type Clock, type Duration, parseDuration, systemClock, WeftError } from '@weft/core'

export interface RetryBudgetOptions {
  /** Retries (and hedges) allowed per original request over `window`. Default `0.2`. */
  ratio?: number
  /** Retries per second always allowed, whatever the ratio. Default `10`. */
  minPerSecond?: number
  /** How long a deposit or a withdrawal counts. Default `10s`. */
  window?: Duration
  /** Measures the window. Default `systemClock`. */
  clock?: Clock
}

export const RETRY_BUDGET_DEFAULTS = { ratio: 0.2, minPerSecond: 10, window: 10_000 } as const

/** One budget per service, shared by every call to it in the process. */
export interface RetryBudget {
  /**
   * Records a request (an original try). `at` is when it started on the budget's clock
   * (`monotonic()`), when the caller has read it already; by default the clock is read.
   */
  deposit(at?: number): void
  /** Takes one retry from the budget; false when none is left. */
  tryWithdraw(): boolean
  /** Retries the budget would allow right now. */
  balance(): number
  /** @internal The clock the budget reads, so a caller on the same clock may pass `deposit` its own reading. */
  readonly clock?: Clock
}

/** Fixed-point scale, as Finagle's: a deposit is worth 1000, a withdrawal 1000 / ratio. */
const SCALE = 1000
/** The window is kept as this many slices; a slice expires as a whole. */
const SLICES = 10

/** Creates a retry budget. */
export function createRetryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  const ratio = options.ratio ?? RETRY_BUDGET_DEFAULTS.ratio
  const minPerSecond = options.minPerSecond ?? RETRY_BUDGET_DEFAULTS.minPerSecond
  const window = options.window === undefined ? RETRY_BUDGET_DEFAULTS.window : checkedWindow(options.window)
  if (!(ratio >= 0 && ratio <= 1000)) throw invalid(`ratio must be between 0 and 1000, got ${ratio}`)
  if (!(minPerSecond >= 0 && Number.isFinite(minPerSecond))) throw invalid(`minPerSecond must be a finite number ≥ 0, got ${minPerSecond}`)
  const clock = options.clock ?? systemClock

  // with no ratio, requests earn nothing and every retry costs 1: only the reserve pays for retries
  const depositAmount = ratio === 0 ? 0 : SCALE
  const withdrawAmount = ratio === 0 ? 1 : Math.floor(SCALE / ratio)
  const reserve = minPerSecond * (window / 1000) * withdrawAmount
  const sliceMs = window / SLICES
  const slices = new Float64Array(SLICES)
  let sum = 0
  let current = 0
  let sliceStart = clock.monotonic()

  /** Expires the slices that fell out of the window: at most SLICES of them, whatever the gap. */
  function advance(now: number) {
    const elapsed = now - sliceStart
    if (elapsed < sliceMs) return
    const steps = Math.floor(elapsed / sliceMs)
    const n = steps < SLICES ? steps : SLICES
    for (let i = 1; i <= n; i++) {
      const idx = (current + i) % SLICES
      sum -= slices[idx] as number
      slices[idx] = 0
    }
    current = (current + steps) % SLICES
    sliceStart += steps * sliceMs
  }

  return {
    clock,
    deposit(at) {
      if (depositAmount === 0) return
      advance(at ?? clock.monotonic())
      slices[current] = (slices[current] as number) + depositAmount
      sum += depositAmount
    },
    tryWithdraw() {
      advance(clock.monotonic())
      if (sum + reserve < withdrawAmount) return false
      slices[current] = (slices[current] as number) - withdrawAmount
      sum -= withdrawAmount
      return true
    },
    balance() {
      advance(clock.monotonic())
      const left = Math.floor((sum + reserve) / withdrawAmount)
      return left > 0 ? left : 0
    },
  }
}

function checkedWindow(window: Duration): number {
  let ms: number
  try {
    ms = parseDuration(window)
  } catch (err) {
    throw invalid(`window: ${(err as Error).message}`)
  }
  if (ms <= 0) throw invalid(`window must be longer than 0, got ${String(window)}`)
  return ms
}

function invalid(message: string): WeftError {
  return new WeftError('WEFT_INVALID_ARGUMENT', `createRetryBudget: ${message}`)
}
