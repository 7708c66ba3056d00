/**
 * Reading flag values and the files they name: a bad one is refused with the flag's name and what it
 * takes, never read as "no filter" or NaN, nor left to Node's bare `EISDIR` / `ENOENT` line.
 */
import { readFile } from 'node:fs/promises'
import { type Direction, parseDuration } from '@weft/core'
import { parseLifetime } from '@weft/mtls'

/** `--direction`: `inbound`, `outbound`, or not given. */
export function directionFlag(value: string | undefined): Direction | undefined {
  return value === undefined ? undefined : choiceFlag('--direction', value, DIRECTIONS)
}

const DIRECTIONS: readonly Direction[] = ['inbound', 'outbound']

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

/** A duration above zero as weft reads durations (`--cert-lifetime 24h`), in milliseconds; `undefined` when not given. */
export function durationFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  let ms: number
  try {
    ms = parseDuration(value)
  } catch {
    ms = Number.NaN
  }
  if (!(ms > 0)) throw new Error(`${flag} must be a duration like 24h or 90m, above zero and at most about 24.8 days, got ${value}`)
  return ms
}

/** A certificate's `--lifetime` as @weft/mtls reads it, whole days (`30d`) or a duration (`24h`); the value, once checked. */
export function lifetimeFlag(flag: string, value: string): string {
  try {
    parseLifetime(value)
  } catch {
    throw new Error(
      `${flag} must be whole days like 30d (at most 36500), or a duration like 24h or 90m (at most about 24.8 days), got ${value}`,
    )
  }
  return value
}

/** One of a fixed list of words (`--key-type`). */
export function choiceFlag<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T
  throw new Error(`${flag} takes ${orList(choices)}, got ${value}`)
}

/** `a, b or c`, for help text and messages. */
export function orList(words: readonly string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`
}

/**
 * The text of a file a flag or argument names; a file that cannot be read is refused with `name`
 * (`--bundle`, `weft import:`), the path and why, in words.
 */
export async function readNamedFile(name: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new Error(`${name} ${path}: ${whyUnreadable(err)}`, { cause: err })
  }
}

const UNREADABLE: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
}

function whyUnreadable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code
  return (code !== undefined && UNREADABLE[code]) || `cannot be read (${(err as Error)?.message ?? String(err)})`
}
