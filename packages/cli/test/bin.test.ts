import { spawn } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { launcher, weft } from './launcher.js'

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
    const { code, stdout } = await weft(['--help'])

    expect(code).toBe(0)
    expect(stdout).toMatch(/^Usage: weft /)
    expect(stdout).toMatch(/^ {2}demo /m)
  })

  it('`weft import … | head`: a reader that goes away ends weft quietly, with no EPIPE stack trace', async () => {
    const fixture = fileURLToPath(new URL('../../traffic/test/fixtures/istio-virtualservice.yaml', import.meta.url))
    const child = spawn(process.execPath, [launcher, 'import', fixture], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy() // the reader is gone before weft writes a byte
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))

    const code = await new Promise((resolve) => child.on('close', resolve))

    expect(stderr).not.toContain('EPIPE')
    expect(stderr).not.toMatch(/^\s+at /m)
    expect(code).toBe(0)
  })
})
