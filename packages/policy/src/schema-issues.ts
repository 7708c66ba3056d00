/** valibot's issues turned into ours: one line per bad field, in words a policy author reads, and never valibot's own shapes. */
import type * as v from 'valibot'
import type { RawIssue } from './issues.js'
import { branchIssues, KNOWN_KEYS, UNKNOWN_KEY } from './schema.js'

type Issue = v.BaseIssue<unknown>
type Path = (string | number)[]

/** An issue with its path in segments, and whether it is about a map key that was refused, or a key that is missing. */
interface Flat extends RawIssue {
  key: boolean
}

/** "Did you mean" hints are worked out for this many unknown keys at most: a hostile document may hold thousands. */
const HINTS = 50

/** Flattens the schema's issues into ours. Every message was written by the schema; this adds paths and hints. */
export function fromSchema(issues: readonly Issue[]): RawIssue[] {
  const flat = issues.flatMap((issue) => fromOne(issue, []))
  // a refused key hides what its value said: the value was never the problem
  const keys = new Set(flat.filter((i) => i.key).map((i) => JSON.stringify(i.segments)))
  const kept = keys.size === 0 ? flat : flat.filter((i) => !underKey(i, keys))
  const hints = { left: HINTS }
  return kept.map(({ segments, message, subject }) => {
    if (message !== UNKNOWN_KEY) return { segments, message, subject }
    return { segments, message: `${UNKNOWN_KEY}${hints.left-- > 0 ? hint(String(segments.at(-1))) : ''}`, subject }
  })
}

/** True when another issue, about a key, stands at the issue's path or above it. */
function underKey(issue: Flat, keys: ReadonlySet<string>): boolean {
  for (let n = issue.key ? issue.segments.length - 1 : issue.segments.length; n > 0; n--) {
    if (keys.has(JSON.stringify(issue.segments.slice(0, n)))) return true
  }
  return false
}

function fromOne(issue: Issue, prefix: Path): Flat[] {
  const segments: Path = [...prefix, ...(issue.path ?? []).map((item) => item.key as string | number)]
  if (issue.type === 'union') {
    // keep what the branch for the value's kind said; with no such branch, the union's own message says what was expected
    const said = branchIssues(issue)
    if (said.length > 0) return said.flatMap((i) => fromOne(i, segments))
  }
  if (issue.path?.at(-1)?.origin !== 'key') return [{ segments, message: issue.message, key: false }]
  // a refused or missing key hides what its value said; a check of ours on a key (unknown, given twice)
  // does not: the value was still checked, and nothing stands under an unknown key's path anyway
  return [{ segments, message: issue.message, key: issue.kind !== 'validation', subject: 'key' }]
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
