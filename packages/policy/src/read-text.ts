/**
 * Policy text to data: JSON through JSON.parse, YAML through the `yaml` package locked down to one
 * document, few aliases, no merge keys and no tags beyond YAML's own, with positions for every error.
 */
import { createRequire } from 'node:module'
import type * as Yaml from 'yaml'
import type { RawIssue, Segments } from './issues.js'

export type PolicyFormat = 'json' | 'yaml'

let yamlLib: typeof Yaml | undefined

/**
 * @internal The `yaml` package, loaded the first time YAML is read: a mesh whose policy is an
 * object or JSON never loads it (about 2 MB of RSS).
 */
export function loadYaml(): typeof Yaml {
  // tsup shims import.meta.url in the CJS build
  yamlLib ??= createRequire(import.meta.url)('yaml') as typeof Yaml
  return yamlLib
}

export interface TextLimits {
  maxBytes: number
  maxAliasCount: number
  maxDepth: number
}

/** Finds a field's line and column in YAML text: its key's, or its value's (the default). */
export type Locate = (segments: Segments, subject?: 'key' | 'value') => { line: number; column: number } | undefined

export interface ReadText {
  value: unknown
  issues: RawIssue[]
  /** YAML only. */
  locate?: Locate
}

/** YAML's own tags (what the core schema resolves untagged scalars to); any other tag is refused. */
const YAML_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'seq', 'map'].map((t) => `tag:yaml.org,2002:${t}`))

/** Sniffs the format: JSON when the text starts with `{` or `[`, else YAML. */
export function sniffFormat(text: string): PolicyFormat {
  const first = text.trimStart()[0]
  return first === '{' || first === '[' ? 'json' : 'yaml'
}

/** Checks the size limit on the raw text, before any parsing. */
export function sizeIssue(bytes: number, maxBytes: number): RawIssue | undefined {
  if (bytes <= maxBytes) return undefined
  return { segments: [], message: `document is ${bytes} bytes, over the limit of ${maxBytes} bytes (${formatBytes(maxBytes)})` }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1_048_576 && bytes % 1_048_576 === 0) return `${bytes / 1_048_576} MiB`
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`
  return `${bytes} bytes`
}

/** Parses policy text; never throws. */
export function readText(text: string, format: PolicyFormat, limits: TextLimits): ReadText {
  const size = sizeIssue(Buffer.byteLength(text, 'utf8'), limits.maxBytes)
  if (size !== undefined) return { value: undefined, issues: [size] }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  if (text.trim() === '') return { value: undefined, issues: [{ segments: [], message: 'document is empty' }] }
  return format === 'json' ? readJson(text) : readYaml(text, limits)
}

function readJson(text: string): ReadText {
  try {
    return { value: JSON.parse(text), issues: [] }
  } catch (err) {
    // V8 says where: "Unexpected token } in JSON at position 10 (line 2 column 3)"
    const message = (err as Error).message
    const at = /\(line (\d+) column (\d+)\)/.exec(message)
    const issue: RawIssue = { segments: [], message: `not valid JSON: ${message}` }
    if (at !== null) {
      issue.line = Number(at[1])
      issue.column = Number(at[2])
    }
    return { value: undefined, issues: [issue] }
  }
}

function readYaml(text: string, limits: TextLimits): ReadText {
  const tooDeep = yamlDepthIssue(text, limits.maxDepth)
  if (tooDeep !== undefined) return { value: undefined, issues: [tooDeep] }
  const { isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, visit } = loadYaml()
  const lineCounter = new LineCounter()
  const options = {
    lineCounter,
    maxAliasCount: limits.maxAliasCount,
    merge: false,
    uniqueKeys: true,
    prettyErrors: false,
    version: '1.2' as const,
  }
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset)
    return { line, column: col }
  }
  const issueAt = (message: string, offset: number | undefined): RawIssue => ({
    segments: [],
    message,
    ...(offset === undefined ? {} : position(offset)),
  })

  const docs = parseAllDocuments(text, options)
  if (!Array.isArray(docs)) return { value: undefined, issues: [{ segments: [], message: 'document is empty' }] }
  if (docs.length > 1) {
    return { value: undefined, issues: [issueAt(`holds ${docs.length} YAML documents; a policy is one document`, docs[1]?.range[0])] }
  }
  const doc = docs[0]
  if (doc === undefined || doc.contents === null) return { value: undefined, issues: [{ segments: [], message: 'document is empty' }] }
  const issues: RawIssue[] = []
  for (const e of doc.errors) issues.push(issueAt(`not valid YAML: ${firstLine(e.message)}`, e.pos[0]))
  visit(doc, (_key, node, ancestors) => {
    if (isNode(node) && node.tag !== undefined && !YAML_TAGS.has(node.tag)) {
      const issue = issueAt(`YAML tag ${node.tag.replace('tag:yaml.org,2002:', '!!')} is not allowed`, node.range?.[0])
      issues.push({ ...issue, segments: segmentsOf([...ancestors, node]) })
    }
  })
  if (issues.length > 0) return { value: undefined, issues }

  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: limits.maxAliasCount })
  } catch (err) {
    const message = (err as Error).message
    return {
      value: undefined,
      issues: [{ segments: [], message: `not accepted: ${message} (at most ${limits.maxAliasCount} alias expansions)` }],
    }
  }

  const locate: Locate = (segments, subject = 'value') => {
    let node: unknown = doc.contents
    let keyNode: unknown
    let found = 0
    for (const segment of segments) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === segment)
        if (pair === undefined) break
        keyNode = pair.key
        node = pair.value
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment]
        keyNode = undefined
      } else break
      found++
    }
    // a key not found falls back to the nearest field found, as a value does; `key:` with no value has only its key
    const onKey = subject === 'key' && found === segments.length
    const target = onKey && isNode(keyNode) ? keyNode : isNode(node) ? node : isNode(keyNode) ? keyNode : undefined
    const offset = target?.range?.[0]
    return offset === undefined ? undefined : position(offset)
  }
  return { value, issues: [], locate }
}

/**
 * A linear scan that estimates YAML nesting before the parser runs: the `yaml` package needs seconds
 * for a 1 MiB run of `[` (13 s measured here), so depth is refused on the text first. The estimate
 * (indentation levels + compact `- ` entries on the line + open flow brackets, quoted scalars and
 * comments skipped) may miss an indentless sequence, so the exact check on the data stays; it
 * only has to keep the parser's work proportional.
 */
export function yamlDepthIssue(text: string, maxDepth: number): RawIssue | undefined {
  const indents: number[] = []
  let flow = 0
  let line = 1
  let lineStart = 0
  let i = 0
  const refuse = (): RawIssue => ({
    segments: [],
    message: `nested deeper than the limit of ${maxDepth} levels`,
    line,
    column: i - lineStart + 1,
  })
  while (i < text.length) {
    // start of a line: indentation, then compact sequence entries (`- - - x`)
    let indent = 0
    while (text[i] === ' ') {
      i++
      indent++
    }
    const blank = text[i] === '\n' || text[i] === '\r' || text[i] === '#' || i >= text.length
    if (!blank && flow === 0) {
      while (indents.length > 0 && (indents[indents.length - 1] as number) > indent) indents.pop()
      if (indents.length === 0 || (indents[indents.length - 1] as number) < indent) indents.push(indent)
    }
    // the first `- ` stands at the indentation already counted; each further one on the line nests a list
    let dashes = 0
    while (text[i] === '-' && (text[i + 1] === ' ' || text[i + 1] === '\n' || i + 1 === text.length)) {
      dashes++
      if (indents.length + dashes - 1 + flow > maxDepth) return refuse()
      i++
      while (text[i] === ' ') i++
    }
    if (indents.length + Math.max(0, dashes - 1) + flow > maxDepth) return refuse()
    // the rest of the line
    let previous = ' '
    for (; i < text.length && text[i] !== '\n'; i++) {
      const c = text[i] as string
      if (c === '#' && (previous === ' ' || previous === '\t')) {
        while (i < text.length && text[i] !== '\n') i++
        break
      }
      if ((c === '"' || c === "'") && ' \t[{,:-?'.includes(previous)) {
        const end = skipQuoted(text, i, c)
        for (let j = i; j < end; j++) {
          if (text[j] === '\n') {
            line++
            lineStart = j + 1
          }
        }
        i = end
        previous = c
        continue
      }
      // a bracket opens a collection only where a value starts; inside a plain scalar (`/v[0-9]`) it is text
      if ((c === '[' || c === '{') && (flow > 0 || ' \t:-?,'.includes(previous))) {
        flow++
        if (indents.length + Math.max(0, dashes - 1) + flow > maxDepth) return refuse()
      } else if ((c === ']' || c === '}') && flow > 0) flow--
      previous = c
    }
    i++
    line++
    lineStart = i
  }
  return undefined
}

/** The index of the closing quote of a quoted scalar opened at `start` (or the end of the text). */
function skipQuoted(text: string, start: number, quote: string): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]
    if (quote === '"' && c === '\\') i++
    else if (c === quote) {
      if (quote === "'" && text[i + 1] === "'") i++
      else return i
    }
  }
  return text.length
}

/** The path of a node from its ancestors, as the data will have it: map keys and list indexes. */
function segmentsOf(chain: readonly unknown[]): (string | number)[] {
  const { isPair, isScalar, isSeq } = loadYaml()
  const segments: (string | number)[] = []
  for (let i = 0; i < chain.length - 1; i++) {
    const here = chain[i]
    const next = chain[i + 1]
    if (isSeq(here)) segments.push(here.items.indexOf(next as never))
    else if (isPair(here) && here.value === next && isScalar(here.key)) segments.push(String(here.key.value))
  }
  return segments
}

function firstLine(message: string): string {
  const i = message.indexOf(' at line ')
  return (i === -1 ? message.split('\n')[0] : message.slice(0, i)) ?? message
}
