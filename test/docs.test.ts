/** What the documentation shows a user is true of the code: its policy examples load, fragments included, its error codes and defaults exist. */
import { readdirSync, readFileSync } from 'node:fs'
import { ERROR_CODES, isWeftError } from '@weft/core'
import { loadYaml, type PolicyIssue, parsePolicy } from '@weft/policy'
import { describe, expect, it } from 'vitest'

const root = new URL('../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), 'utf8')
const packages = readdirSync(new URL('packages/', root))
const pages = [
  'README.md',
  ...readdirSync(new URL('docs/', root))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...packages.map((p) => `packages/${p}/README.md`),
]

/** Every ```yaml block of a page, with the line its text starts on. */
function yamlBlocks(page: string): { page: string; line: number; text: string }[] {
  const blocks: { page: string; line: number; text: string }[] = []
  const lines = read(page).split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```yaml') continue
    const close = lines.indexOf('```', i + 1)
    // a fence left open runs to the end of the page, as markdown shows it; an end of -1 would restart this scan forever
    const end = close === -1 ? lines.length : close
    blocks.push({ page, line: i + 2, text: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return blocks
}

const blocks = pages.flatMap(yamlBlocks)
const firstLine = (text: string) => text.split('\n').find((l) => l.trim() !== '' && !l.startsWith('#')) ?? ''
const isDocument = (text: string) => /^(apiVersion|services|defaults):/.test(firstLine(text))

/** A block that is a whole document, or its `services:` / `defaults:` with only `apiVersion` left out: read as text, as a file is. */
const documents = blocks
  .filter(({ text }) => isDocument(text))
  .map(({ page, line, text }) => [`${page}:${line}`, firstLine(text).startsWith('apiVersion:') ? text : `apiVersion: weft.dev/v1\n${text}`])

/**
 * The top-level entries of a block, each with its line: a line at the left margin starts one, and
 * the indented, blank and comment lines after it belong to it.
 */
function entries(text: string, line: number): { line: number; key: string; text: string }[] {
  const out: { line: number; key: string; text: string }[] = []
  text.split('\n').forEach((l, i) => {
    const last = out.at(-1)
    if (/^[^\s#]/.test(l)) out.push({ line: line + i, key: /^([^:\s]+)/.exec(l)?.[1] ?? l, text: l })
    else if (last !== undefined) last.text += `\n${l}`
  })
  return out
}

/**
 * Every other block is a fragment of a document: a `retries:` or a route's `match:` shown alone. A
 * fragment that gives a key twice shows alternatives (`loadBalancer: ewma`, then `loadBalancer:
 * { type: ring-hash, … }`), and each of its entries is checked on its own; else it is checked whole.
 */
const fragments = blocks
  .filter(({ text }) => !isDocument(text))
  .flatMap(({ page, line, text }) => {
    const all = entries(text, line)
    const alternatives = new Set(all.map((e) => e.key)).size < all.length
    const parts = alternatives ? all : [{ line, key: all.map((e) => e.key).join(', '), text }]
    return parts.map((p) => [`${page}:${p.line} (${p.key})`, p.text])
  })

/** The subsets the recipes name, as the service they stand in has them (docs/traffic.md shows it). */
const subsets = Object.fromEntries(['v1', 'v2', 'blue', 'green', 'a', 'b'].map((v) => [v, { version: v }]))

/** Where a fragment may stand, outermost first: among a service's fields, or among one route's. */
const places = [
  { name: 'a service', path: 'services.payments.', wrap: (f: object) => ({ subsets, ...f }) },
  { name: 'a route', path: 'services.payments.routes[0].', wrap: (f: object) => ({ subsets, routes: [f] }) },
]

/** The issues a document is refused with; none when it loads. */
function issuesOf(document: object): PolicyIssue[] {
  try {
    parsePolicy(document)
    return []
  } catch (err) {
    if (isWeftError(err) && err.code === 'WEFT_POLICY_INVALID') return (err.details as { issues: PolicyIssue[] }).issues
    throw err
  }
}

/** The fragment in the outermost place that takes every one of its keys, with the issues it has there. */
function placed(fragment: unknown): { place: string; issues: PolicyIssue[] } {
  if (typeof fragment !== 'object' || fragment === null || Array.isArray(fragment)) {
    return { place: 'no place', issues: [{ path: '', message: 'is not a mapping of policy fields' }] }
  }
  for (const { name, path, wrap } of places) {
    const issues = issuesOf({ apiVersion: 'weft.dev/v1', services: { payments: wrap(fragment) } })
    const refused = (key: string) => issues.some((i) => i.path === `${path}${key}` && i.message.startsWith('unknown key'))
    if (!Object.keys(fragment).some(refused)) return { place: name, issues }
  }
  const keys = Object.keys(fragment).join(', ')
  return { place: 'no place', issues: [{ path: '', message: `neither a service nor a route takes all of ${keys}` }] }
}

describe('the documentation', () => {
  it('shows policy documents', () => {
    expect(documents.length).toBeGreaterThan(5)
  })

  it.each(documents)('%s is a policy weft loads', (_where, text) => {
    expect(() => parsePolicy(text)).not.toThrow()
  })

  it('shows fragments of policy documents', () => {
    expect(fragments.length).toBeGreaterThan(5)
  })

  it.each(fragments)('%s is policy weft loads, in the place its keys belong', (_where, text) => {
    const { place, issues } = placed(loadYaml().parse(text))
    expect(issues, `in ${place}`).toEqual([])
  })

  it('names only error codes that exist', () => {
    for (const page of pages) {
      for (const [code] of read(page).matchAll(/\bWEFT_[A-Z_]+\b/g)) {
        if (code === 'WEFT_BOOTSTRAP_TOKEN') continue // an environment variable in the examples, not an error
        expect(Object.keys(ERROR_CODES), `${page} names ${code}`).toContain(code)
      }
    }
  })

  it('names only *_DEFAULTS constants its package exports', async () => {
    for (const name of packages) {
      const readme = read(`packages/${name}/README.md`)
      const named = [...new Set([...readme.matchAll(/`([A-Z][A-Z_]*_DEFAULTS)`/g)].map((m) => m[1] as string))]
      if (named.length === 0) continue
      const exported = Object.keys(await import(`@weft/${name}`))
      for (const constant of named) expect(exported, `packages/${name}/README.md names ${constant}`).toContain(constant)
    }
  })
})

describe('the README', () => {
  it('has a quick start of exactly two commands: one that installs and runs the demo, one that runs the tests', () => {
    const quickStart = read('README.md').split('## Quick start')[1]?.split('\n## ')[0] ?? ''
    const block = /```sh\n([\s\S]*?)```/.exec(quickStart)?.[1] ?? ''
    const commands = block
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim())
      .filter((line) => line !== '')
    expect(commands).toEqual(['npm ci && npm run demo', 'npm test'])
  })
})
