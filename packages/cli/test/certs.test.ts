import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIdentitySource, describeCertificate } from '@weft/mtls'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createProgram } from '../src/index.js'

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'weft-certs-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Runs `weft …` in-process and returns what it printed. */
async function weft(...args: string[]): Promise<string> {
  const lines: string[] = []
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    lines.push(a.join(' '))
  })
  try {
    await createProgram()
      .exitOverride()
      .parseAsync(['node', 'weft', ...args])
  } finally {
    spy.mockRestore()
  }
  return lines.join('\n')
}

describe('weft certs', () => {
  it('creates an anchor, issues a service certificate a mesh can load, and shows it', async () => {
    const dir = await tempDir()
    const out = await weft('certs', 'anchor', '--trust-domain', 'weft.local', '--out', join(dir, 'ca'), '--lifetime', '30d')
    expect(out).toMatch(/^trust anchor for weft.local, valid until \d{4}-/)
    expect((await stat(join(dir, 'ca', 'anchor.key'))).mode & 0o777).toBe(0o600)

    const issued = await weft(
      'certs',
      'issue',
      '--anchor',
      join(dir, 'ca'),
      '--service',
      'checkout',
      '--lifetime',
      '2h',
      '--out',
      join(dir, 'checkout'),
    )
    expect(issued).toMatch(/^issued spiffe:\/\/weft.local\/ns\/default\/sa\/checkout, valid until/)
    const d = describeCertificate(await readFile(join(dir, 'checkout', 'cert.pem'), 'utf8'))
    expect(d.notAfter.getTime() - d.notBefore.getTime()).toBe(2 * 3_600_000)
    expect((await stat(join(dir, 'checkout', 'key.pem'))).mode & 0o777).toBe(0o600)
    const source = await createIdentitySource({ dir: join(dir, 'checkout') }, { watch: false })
    expect(source.current().spiffeId).toBe('spiffe://weft.local/ns/default/sa/checkout')

    const shown = await weft('certs', 'show', join(dir, 'checkout'))
    expect(shown).toMatch(/identity\s+spiffe:\/\/weft.local\/ns\/default\/sa\/checkout/)
    expect(shown).toMatch(/valid until\s+\S+ \(in 1 hours?\)|valid until\s+\S+ \(in \d+ minutes\)/)
    expect(shown).toMatch(/SVID: ok/)
    expect(process.exitCode ?? 0).toBe(0)
  })

  it('issues an explicit SPIFFE ID in another namespace, with DNS names for outside callers', async () => {
    const dir = await tempDir()
    await weft('certs', 'anchor', '--trust-domain', 'corp.example', '--out', dir)
    await weft('certs', 'issue', '--anchor', dir, '--service', 'ledger', '--namespace', 'billing', '--out', join(dir, 'a'))
    await weft(
      'certs',
      'issue',
      '--anchor',
      dir,
      '--spiffe-id',
      'spiffe://corp.example/batch/nightly',
      '--dns',
      'batch.corp.example',
      '--out',
      join(dir, 'b'),
    )

    expect(describeCertificate(await readFile(join(dir, 'a', 'cert.pem'), 'utf8')).spiffeId).toBe(
      'spiffe://corp.example/ns/billing/sa/ledger',
    )
    const b = describeCertificate(await readFile(join(dir, 'b', 'cert.pem'), 'utf8'))
    expect([b.spiffeId, b.dnsNames]).toEqual(['spiffe://corp.example/batch/nightly', ['batch.corp.example']])
  })

  it('refuses an ID outside the anchor’s trust domain, or both --service and --spiffe-id', async () => {
    const dir = await tempDir()
    await weft('certs', 'anchor', '--trust-domain', 'weft.local', '--out', dir)
    await expect(weft('certs', 'issue', '--anchor', dir, '--spiffe-id', 'spiffe://other.local/x', '--out', join(dir, 'x'))).rejects.toThrow(
      /not in the anchor's trust domain weft.local/,
    )
    await expect(weft('certs', 'issue', '--anchor', dir, '--service', 'a', '--spiffe-id', 'spiffe://weft.local/a')).rejects.toThrow(
      /exactly one of/,
    )
  })

  it('shows an anchor as a CA, and prints JSON on request', async () => {
    const dir = await tempDir()
    await weft('certs', 'anchor', '--trust-domain', 'weft.local', '--out', dir)
    expect(await weft('certs', 'show', join(dir, 'anchor.pem'))).toMatch(/CA\s+yes/)
    const json = JSON.parse(await weft('certs', 'show', '--json', join(dir, 'anchor.pem')))
    expect(json).toMatchObject({ isCA: true, uris: ['spiffe://weft.local'] })
    process.exitCode = 0
  })
})
