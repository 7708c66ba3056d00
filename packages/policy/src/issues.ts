/** Policy problems: one issue per bad field, named by its path, and the WEFT_POLICY_INVALID error that lists them. */
import { WeftError } from '@weft/core'

/** One problem in a policy document. */
export interface PolicyIssue {
  /** The field, as the document spells it: `services.payments.routes[1].split`; `''` for the whole document. */
  path: string
  message: string
  /**
   * 1-based position in YAML text, when the document came as text and the field could be found: of
   * the key for an issue with the key itself (unknown, not allowed, given twice), else of the value.
   */
  line?: number
  column?: number
}

/** A path as segments, before it is formatted. */
export type Segments = readonly (string | number)[]

/** An issue with its path still in segments, so it can be located in YAML text or compared by prefix. */
export interface RawIssue {
  segments: Segments
  message: string
  /** What is wrong: the key at the end of `segments` itself, or (the default) its value. A YAML position points at it. */
  subject?: 'key' | 'value'
  line?: number
  column?: number
}

const PLAIN_KEY = /^[A-Za-z0-9_$@:/*+-][A-Za-z0-9_$@:/*+-]*$/

/** `['services', 'payments', 'routes', 1, 'split']` → `services.payments.routes[1].split`; odd keys are quoted. */
export function formatPath(segments: Segments): string {
  let out = ''
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment.length > 64 ? `${segment.slice(0, 64)}…` : segment)}]`
  }
  return out
}

/** A short, safe description of a value for a message: `string "abc"`, `number -1`, `an array`. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`
  if (typeof value === 'object') return 'a mapping'
  return typeof value
}

/** How many issues the error message spells out; `details.issues` has them all. */
const LISTED = 5

/** The error for a document that failed validation; every issue is in `details.issues`. */
export function policyInvalid(raw: readonly RawIssue[], source: string | undefined, cause?: unknown): WeftError {
  const issues: PolicyIssue[] = raw.map((r) => {
    const issue: PolicyIssue = { path: formatPath(r.segments), message: r.message }
    if (r.line !== undefined) {
      issue.line = r.line
      issue.column = r.column
    }
    return issue
  })
  const lines = issues.slice(0, LISTED).map((i) => {
    const at = i.line === undefined ? '' : ` (line ${i.line}, column ${i.column})`
    return i.path === '' ? `${i.message}${at}` : `${i.path}: ${i.message}${at}`
  })
  const more = issues.length > LISTED ? `; and ${issues.length - LISTED} more` : ''
  const what = source === undefined ? 'policy document' : `policy ${source}`
  const count = issues.length === 1 ? '1 issue' : `${issues.length} issues`
  return new WeftError('WEFT_POLICY_INVALID', `${what} is invalid (${count}): ${lines.join('; ')}${more}`, {
    cause,
    details: source === undefined ? { issues } : { issues, source },
  })
}
