/**
 * The pre-pass over a document before the schema sees it: a clean copy made of plain JSON data only,
 * with the nesting depth, key names and string lengths checked, so that no later step can recurse
 * without bound, read a getter, or write `__proto__`.
 */
import { describe, type RawIssue } from './issues.js'

/** Keys that could reach Object.prototype through a naive merge; rejected at any depth, in any map. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

export interface RawTreeLimits {
  maxDepth: number
  maxStringLength: number
}

export interface CleanTree {
  /** Plain objects, arrays, strings, finite numbers, booleans and null; never a forbidden key. */
  value: unknown
  issues: RawIssue[]
}

/** Copies `input` into plain JSON data, collecting every structural problem on the way. */
export function cleanTree(input: unknown, limits: RawTreeLimits): CleanTree {
  const issues: RawIssue[] = []
  const path: (string | number)[] = []

  const problem = (message: string, key?: string | number) => {
    issues.push({ segments: key === undefined ? [...path] : [...path, key], message })
  }
  /** A problem with the key itself, not with what it holds. */
  const keyProblem = (message: string, key: string) => {
    issues.push({ segments: [...path, key], message, subject: 'key' })
  }

  const copy = (value: unknown, depth: number): unknown => {
    switch (typeof value) {
      case 'string':
        if (value.length > limits.maxStringLength) {
          problem(`string of ${value.length} characters is longer than the limit of ${limits.maxStringLength}`)
        }
        return value
      case 'number':
        if (!Number.isFinite(value)) problem(`expected a finite number, got ${String(value)}`)
        return value
      case 'boolean':
        return value
      case 'object':
        break
      default:
        problem(`expected JSON data, got ${typeof value}`)
        return null
    }
    if (value === null) return null
    if (depth >= limits.maxDepth) {
      problem(`nested deeper than the limit of ${limits.maxDepth} levels`)
      return null
    }
    if (Array.isArray(value)) {
      const out: unknown[] = []
      for (let i = 0; i < value.length; i++) {
        path.push(i)
        out.push(copy(read(value, i), depth + 1))
        path.pop()
      }
      return out
    }
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) {
      problem(`expected JSON data, got ${(value as object).constructor?.name ?? 'an object'} object`)
      return null
    }
    const out: Record<string, unknown> = {}
    // Object.keys sees own keys only: JSON.parse and YAML make `__proto__` an own key, which is what we must catch
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) {
        keyProblem(`"${key}" is not allowed as a key (it could reach Object.prototype)`, key)
        continue
      }
      if (key === '<<') {
        keyProblem('YAML merge keys (<<) are not allowed; write the fields out', key)
        continue
      }
      if (key.length > limits.maxStringLength) {
        keyProblem(`key of ${key.length} characters is longer than the limit of ${limits.maxStringLength}`, key.slice(0, 64))
        continue
      }
      const child = read(value, key)
      if (child === undefined) continue // as JSON.stringify does: an undefined field is absent
      path.push(key)
      out[key] = copy(child, depth + 1)
      path.pop()
    }
    return out
  }

  /** Reads one field; a throwing getter becomes an issue instead of a crash. */
  const read = (container: object, key: string | number): unknown => {
    try {
      return (container as Record<string | number, unknown>)[key]
    } catch (err) {
      problem(`could not be read: ${describe((err as Error)?.message ?? err)}`, key)
      return null
    }
  }

  return { value: copy(input, 0), issues }
}

/** True when `segments` lies at or under `prefix`: a schema issue there repeats a pre-pass issue. */
export function isUnder(segments: readonly (string | number)[], prefix: readonly (string | number)[]): boolean {
  if (segments.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (segments[i] !== prefix[i]) return false
  return true
}
