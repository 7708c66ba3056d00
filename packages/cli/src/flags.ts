/** Reading flag values: a bad one is refused with the flag's name and what it takes, never read as "no filter" or NaN. */
import type { Direction } from '@weft/core'

/** `--direction`: `inbound`, `outbound`, or not given. */
export function directionFlag(value: string | undefined): Direction | undefined {
  if (value === undefined || value === 'inbound' || value === 'outbound') return value
  throw new Error(`--direction takes inbound or outbound, got ${value}`)
}

/** A number of seconds above zero (`--duration`, `--interval`); `undefined` when not given. */
export function secondsFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !(n > 0) || !Number.isFinite(n)) throw new Error(`${flag} must be a positive number of seconds, got ${value}`)
  return n
}

/** A whole number at least `min` (`--rows`, `--warn-days`); `undefined` when not given. */
export function wholeFlag(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new Error(`${flag} must be a whole number ≥ ${min}, got ${value}`)
  return n
}
