/**
 * The signal of a call with a deadline (core's LinkedSignal, aborting with `WEFT_DEADLINE_EXCEEDED`
 * when the deadline passes), and that error.
 */
import { LinkedSignal, type TimerQueue, WeftError } from '@weft/core'

/** Where a call's budget came from, for the error message. */
export type BudgetSource = 'header' | 'inbound' | 'timeout'

/** The signal of a call with a deadline: it follows the caller's signal and aborts with WEFT_DEADLINE_EXCEEDED at `at`. */
export function deadlineSignal(
  timers: TimerQueue,
  at: number,
  parent: AbortSignal | undefined,
  service: string,
  budgetMs: number,
  source: BudgetSource,
): LinkedSignal {
  return new LinkedSignal(parent, timers, at, () => deadlineExceeded(service, budgetMs, source))
}

/** The error a call fails with when its budget runs out. */
export function deadlineExceeded(service: string, budgetMs: number, source: BudgetSource): WeftError {
  const from =
    source === 'header'
      ? 'the x-weft-timeout the caller sent'
      : source === 'inbound'
        ? 'the inbound request it serves'
        : 'the service or route timeout'
  const what = budgetMs > 0 ? `exceeded its deadline of ${budgetMs}ms` : 'had no time left'
  return new WeftError('WEFT_DEADLINE_EXCEEDED', `call to ${service} ${what} (set by ${from})`, {
    details: { service, budgetMs, source },
  })
}
