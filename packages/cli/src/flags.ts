/** Reading flag values: a bad one is refused with the flag's name and what it takes, never read as "no filter" or NaN. */
import type { Direction } from '@weft/core'

/** `--direction`: `inbound`, `outbound`, or not given. */
export function directionFlag(value: string | undefined): Direction | undefined {
  if (value === undefined || value === 'inbound' || value === 'outbound') return value
  throw new Error(`--direction takes inbound or outbound, got ${value}`)
}
