import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIdentitySource, createTrustAnchor, describeCertificate } from '@weft/mtls'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createProgram } from '../src/index.js'
import * as built from './launcher.js'

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

  it('a --lifetime that is not a lifetime, or a --key-type weft cannot make, is one line naming the flag and what it takes, exit 1', async () => {
    const dir = await tempDir()
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    await writeFile(join(dir, 'anchor.pem'), anchor.cert)
    await writeFile(join(dir, 'anchor.key'), anchor.key)
    const newAnchor = ['certs', 'anchor', '--trust-domain', 'weft.local', '--out', join(dir, 'new')]
    const issue = ['certs', 'issue', '--anchor', dir, '--service', 'checkout', '--out', join(dir, 'checkout')]

    const runs = await Promise.all([
      built.weft([...newAnchor, '--lifetime', 'abc']),
      built.weft([...issue, '--lifetime', 'abc']),
      built.weft([...newAnchor, '--key-type', 'foo']),
      built.weft([...issue, '--key-type', 'foo']),
    ])

    const lifetime =
      '--lifetime must be whole days like 30d (at most 36500), or a duration like 24h or 90m (at most about 24.8 days), got abc'
    const keyType = '--key-type takes ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096, got foo'
    expect(runs.map((r) => r.stderr)).toEqual([
      `weft certs anchor: ${lifetime}\n`,
      `weft certs issue: ${lifetime}\n`,
      `weft certs anchor: ${keyType}\n`,
      `weft certs issue: ${keyType}\n`,
    ])
    expect(runs.map((r) => r.code)).toEqual([1, 1, 1, 1])
  })

  it('an --anchor directory without the anchor’s files is one line naming the flag and the file, exit 1, not a bare ENOENT', async () => {
    const dir = await tempDir()

    const { code, stderr } = await built.weft(['certs', 'issue', '--anchor', dir, '--service', 'checkout', '--out', join(dir, 'checkout')])

    expect(stderr).toBe(`weft certs issue: --anchor ${join(dir, 'anchor.pem')}: no such file\n`)
    expect(code).toBe(1)
  })

  it('show on a missing path, or on a file that holds no certificate, is one line naming the file, exit 1', async () => {
    const dir = await tempDir()
    const yaml = join(dir, 'mesh.yaml')
    await writeFile(yaml, 'apiVersion: weft.dev/v1\n')

    const missing = await built.weft(['certs', 'show', join(dir, 'nope.pem')])
    const notPem = await built.weft(['certs', 'show', yaml])

    expect(missing.stderr).toBe(`weft certs show: ${join(dir, 'nope.pem')}: no such file\n`)
    expect(notPem.stderr).toMatch(new RegExp(`^weft certs show: ${yaml.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .+\n$`))
    expect([missing.code, notPem.code]).toEqual([1, 1])
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
