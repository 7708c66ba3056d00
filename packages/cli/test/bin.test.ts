import { execFile } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const launcher = new URL('../bin/weft.js', import.meta.url)
const run = promisify(execFile)

describe('the weft launcher', () => {
  it('is what npm links as `weft`, and is published', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))

    expect(pkg.bin).toEqual({ weft: './bin/weft.js' })
    expect(pkg.files).toEqual(expect.arrayContaining(['bin', 'dist']))
  })

  it('is linked by npm ci too, which reads bins from the lockfile', async () => {
    const lock = JSON.parse(await readFile(new URL('../../../package-lock.json', import.meta.url), 'utf8'))

    expect(lock.packages['packages/cli'].bin).toEqual({ weft: 'bin/weft.js' })
  })

  it('is an executable node script', async () => {
    const text = await readFile(launcher, 'utf8')

    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true)
    expect((await stat(launcher)).mode & 0o111).toBe(0o111)
  })

  it('runs the built cli: `weft --help` exits 0 and lists demo', async () => {
    const { stdout } = await run(process.execPath, [fileURLToPath(launcher), '--help'])

    expect(stdout).toMatch(/^Usage: weft /)
    expect(stdout).toMatch(/^ {2}demo /m)
  })
})
