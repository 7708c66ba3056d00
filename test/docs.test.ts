/** What the documentation shows a user is true of the code: its policy examples load, its error codes and defaults exist. */
import { readdirSync, readFileSync } from 'node:fs'
import { ERROR_CODES } from '@weft/core'
import { parsePolicy } from '@weft/policy'
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

/** Every ```yaml block of a page, with the line it starts on. */
function yamlBlocks(page: string): { where: string; text: string }[] {
  const blocks: { where: string; text: string }[] = []
  const lines = read(page).split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```yaml') continue
    const end = lines.indexOf('```', i + 1)
    blocks.push({ where: `${page}:${i + 2}`, text: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return blocks
}

/** A block that is a whole document, or its `services:` / `defaults:` with only `apiVersion` left out. */
const documents = pages.flatMap(yamlBlocks).flatMap(({ where, text }) => {
  const first = text.split('\n').find((l) => l.trim() !== '' && !l.startsWith('#')) ?? ''
  if (first.startsWith('apiVersion:')) return [[where, text]]
  if (/^(services|defaults):/.test(first)) return [[where, `apiVersion: weft.dev/v1\n${text}`]]
  return []
})

describe('the documentation', () => {
  it('shows policy documents', () => {
    expect(documents.length).toBeGreaterThan(5)
  })

  it.each(documents)('%s is a policy weft loads', (_where, text) => {
    expect(() => parsePolicy(text)).not.toThrow()
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
