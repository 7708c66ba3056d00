/** zod's issues turned into ours: one line per bad field, in words a policy author reads, and never zod's own shapes. */
import type { z } from 'zod'
import { describe, type RawIssue } from './issues.js'
import { KNOWN_KEYS } from './schema.js'

type ZodIssue = z.core.$ZodIssue
type Path = (string | number)[]

const ZOD_DEFAULT_UNION_MESSAGE = 'Invalid input'

/** "Did you mean" hints are worked out for this many unknown keys at most: a hostile document may hold thousands. */
const HINTS = 50

/** Flattens zod issues into ours; `input` must have been reported (`reportInput: true`). */
export function fromZod(issues: readonly ZodIssue[], prefix: Path = [], hints = { left: HINTS }): RawIssue[] {
  return issues.flatMap((issue) => fromOne(issue, prefix, hints))
}

function fromOne(issue: ZodIssue, prefix: Path, hints: { left: number }): RawIssue[] {
  const segments: Path = [...prefix, ...(issue.path as Path)]
  const at = (message: string): RawIssue[] => [{ segments, message }]
  const input = (issue as { input?: unknown }).input
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ segments: [...segments, key], message: `unknown key${hints.left-- > 0 ? hint(key) : ''}` }))
    case 'invalid_key':
      return fromZod(issue.issues, segments, hints).map((i) => ({ ...i, message: `invalid key: ${i.message}` }))
    case 'invalid_element':
      return fromZod(issue.issues, segments, hints)
    case 'invalid_union': {
      // keep the branch that matched the value's kind; a branch that failed only on the kind itself tells nothing
      const fitting = issue.errors.filter((branch) => !(branch.length === 1 && isKindMismatch(branch[0] as ZodIssue)))
      if (fitting.length >= 1 && (fitting.length === 1 || issue.message === ZOD_DEFAULT_UNION_MESSAGE)) {
        return fromZod(fitting[0] as ZodIssue[], segments, hints)
      }
      return at(
        issue.message === ZOD_DEFAULT_UNION_MESSAGE ? `invalid value ${describe(input)}` : `${issue.message}, got ${describe(input)}`,
      )
    }
    case 'invalid_type':
      if (input === undefined) return at('required')
      return at(`expected ${kind(issue.expected)}, got ${describe(input)}`)
    case 'invalid_value':
      return at(`expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${describe(input)}`)
    case 'too_small':
      return at(bound(issue.origin, 'at least', Number(issue.minimum), issue.inclusive !== false, input))
    case 'too_big':
      return at(bound(issue.origin, 'at most', Number(issue.maximum), issue.inclusive !== false, input))
    default:
      return at(issue.message)
  }
}

function isKindMismatch(issue: ZodIssue): boolean {
  return issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value')
}

function kind(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer'
    case 'object':
      return 'a mapping'
    case 'array':
      return 'a list'
    default:
      return `a ${expected}`
  }
}

function bound(origin: string, word: 'at least' | 'at most', limit: number, inclusive: boolean, input: unknown): string {
  if (origin === 'array')
    return word === 'at least' ? `must list at least ${limit} item${limit === 1 ? '' : 's'}` : `must list at most ${limit} items`
  if (origin === 'string') return `must be ${word} ${limit} characters long`
  if (inclusive) return `must be ${word} ${limit}, got ${describe(input)}`
  return `must be ${word === 'at least' ? 'greater than' : 'less than'} ${limit}, got ${describe(input)}`
}

/** ` (did you mean retries?)` when a known key is one or two edits away. */
function hint(key: string): string {
  if (KNOWN_KEYS.includes(key)) return ' (not allowed here)'
  let best: string | undefined
  let bestDistance = 3
  for (const known of KNOWN_KEYS) {
    if (Math.abs(known.length - key.length) >= bestDistance) continue
    const d = distance(key.toLowerCase(), known.toLowerCase())
    if (d < bestDistance) {
      best = known
      bestDistance = d
    }
  }
  return best === undefined ? '' : ` (did you mean ${best}?)`
}

/** Damerau-Levenshtein (optimal string alignment) distance, for short keys. */
function distance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return 99
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      const row = d[i] as number[]
      const up = d[i - 1] as number[]
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1)
    }
  return (d[a.length] as number[])[b.length] as number
}
