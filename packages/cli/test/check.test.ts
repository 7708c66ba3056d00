import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTrustAnchor, issueCertificate, writeIdentity } from '@weft/mtls'
import { describe, expect, it, onTestFinished } from 'vitest'
import { runCheck } from '../src/commands/check.js'
import { createProgram } from '../src/index.js'
import { weft } from './launcher.js'
import { adminFor, createMeshMetrics } from './observe-helpers.js'

const DAY = 86_400_000

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cli-check-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function check(files: string[], flags = {}) {
  const lines: string[] = []
  const code = await runCheck(files, flags, (l) => lines.push(l))
  return { code, lines }
}

const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
const spiffeId = 'spiffe://weft.local/ns/default/sa/checkout'

describe('weft check', () => {
  it('is a registered sub-command with --admin, --control-plane and --json', () => {
    const command = createProgram().commands.find((c) => c.name() === 'check')
    expect(command?.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--admin', '--control-plane', '--json', '--bundle']))
  })

  describe('policy files', () => {
    it('passes a valid policy', async () => {
      const dir = await folder()
      await writeFile(
        join(dir, 'mesh.yaml'),
        'apiVersion: weft.dev/v1\nservices:\n  payments:\n    endpoints: [ { address: 127.0.0.1:8081 } ]\n',
      )
      const { code, lines } = await check([join(dir, 'mesh.yaml')])
      expect(lines[0]).toMatch(/^√ .*mesh\.yaml: policy valid \(version \S+, 1 service: payments\)$/)
      expect(code).toBe(0)
    })

    it('fails an invalid policy with the path of the bad field', async () => {
      const dir = await folder()
      await writeFile(join(dir, 'mesh.yaml'), 'apiVersion: weft.dev/v1\nservices:\n  payments:\n    retires: { attempts: 3 }\n')
      const { code, lines } = await check([join(dir, 'mesh.yaml')])
      expect(lines[0]).toMatch(/^× .*mesh\.yaml: policy invalid: .*services\.payments.*retires/)
      expect(lines.at(-1)).toBe('Status check results are ×')
      expect(code).toBe(1)
    })
  })

  describe('certificates', () => {
    it('passes a good identity directory: SVID, key match, chain, expiry', async () => {
      const dir = await folder()
      await writeIdentity(dir, await issueCertificate({ anchor, spiffeId, lifetime: '90d' }))
      const { code, lines } = await check([dir])
      expect(lines).toContainEqual(
        expect.stringMatching(new RegExp(`^√ .*cert\\.pem: ${spiffeId}, valid until \\d{4}-\\d\\d-\\d\\d \\(\\d+ days\\)$`)),
      )
      expect(lines).toContainEqual(expect.stringMatching(/^√ .*cert\.pem: chains to /))
      expect(lines).toContainEqual(expect.stringMatching(/^√ .*key\.pem: matches cert\.pem$/))
      expect(code).toBe(0)
    })

    it('fails an expired certificate with a clear line', async () => {
      const dir = await folder()
      const expired = await issueCertificate({ anchor, spiffeId, notBefore: new Date(Date.now() - 10 * DAY), lifetime: '2d' })
      await writeFile(join(dir, 'old.pem'), expired.cert)
      const { code, lines } = await check([join(dir, 'old.pem')])
      expect(lines[0]).toBe(`× ${join(dir, 'old.pem')}: ${spiffeId}: expired on ${expired.notAfter.toISOString().slice(0, 10)}`)
      expect(code).toBe(1)
    })

    it('warns, without failing, about a certificate that expires within 60 days', async () => {
      const dir = await folder()
      await writeFile(join(dir, 'soon.pem'), (await issueCertificate({ anchor, spiffeId, lifetime: '30d' })).cert)
      const { code, lines } = await check([join(dir, 'soon.pem')])
      expect(lines[0]).toMatch(
        /^‼ .*soon\.pem: spiffe:\/\/weft\.local\/ns\/default\/sa\/checkout: expires in 29 days .*renew before 60 days are left$/,
      )
      expect(code).toBe(0)
    })

    it('fails a key that does not belong to the certificate', async () => {
      const dir = await folder()
      const a = await issueCertificate({ anchor, spiffeId, lifetime: '90d' })
      const b = await issueCertificate({ anchor, spiffeId, lifetime: '90d' })
      await writeIdentity(dir, { ...a, key: b.key })
      const { code, lines } = await check([dir])
      expect(lines).toContainEqual(expect.stringMatching(/^× .*key\.pem: does not match cert\.pem$/))
      expect(code).toBe(1)
    })

    it('fails a certificate that does not chain to the bundle it is checked against', async () => {
      const dir = await folder()
      const other = await createTrustAnchor({ trustDomain: 'weft.local' })
      await writeFile(join(dir, 'cert.pem'), (await issueCertificate({ anchor, spiffeId, lifetime: '90d' })).cert)
      await writeFile(join(dir, 'other.pem'), other.cert)
      const { code, lines } = await check([join(dir, 'cert.pem')], { bundle: join(dir, 'other.pem') })
      expect(lines).toContainEqual(`× ${join(dir, 'cert.pem')}: does not chain to the trust bundle`)
      expect(code).toBe(1)
    })

    it('fails a file that is missing, naming it', async () => {
      const { code, lines } = await check(['/nonexistent/cert.pem'])
      expect(lines[0]).toBe('× /nonexistent/cert.pem: cannot read: ENOENT')
      expect(code).toBe(1)
    })
  })

  describe('--admin', () => {
    it('passes an admin endpoint that is live, ready and serves weft metrics', async () => {
      const admin = await adminFor(createMeshMetrics())
      const { code, lines } = await check([], { admin: admin.url })
      expect(lines.slice(0, 3)).toEqual([`√ admin: ${admin.url} is live`, '√ admin: mesh is ready', '√ admin: serves weft metrics'])
      expect(code).toBe(0)
    })

    it('fails one that does not answer', async () => {
      const admin = await adminFor(createMeshMetrics())
      await admin.close()
      const { code, lines } = await check([], { admin: admin.url })
      expect(lines[0]).toBe(`× admin: ${admin.url} does not answer: ECONNREFUSED`)
      expect(code).toBe(1)
    })
  })

  it('prints JSON with --json', async () => {
    const admin = await adminFor(createMeshMetrics())
    const { lines } = await check([], { admin: admin.url, json: true })
    expect(JSON.parse(lines[0] as string)).toMatchObject({ ok: true, checks: [{ target: 'admin', status: 'ok' }, {}, {}] })
  })

  it('--warn-days that is not a whole number of days is refused, not read as "never warn"', async () => {
    const dir = await folder()
    const cert = await issueCertificate({ anchor, spiffeId, lifetime: '30d' })
    await writeFile(join(dir, 'cert.pem'), cert.cert)

    await expect(check([join(dir, 'cert.pem')], { warnDays: 'abc' })).rejects.toThrow('--warn-days must be a whole number ≥ 0, got abc')
  })

  it('a --bundle that is missing, a directory or no certificate is one line naming it, exit 1', async () => {
    const dir = await folder()
    await writeFile(join(dir, 'notes.pem'), 'no certificate here\n')
    const missing = join(dir, 'missing.pem')

    const runs = await Promise.all([missing, dir, join(dir, 'notes.pem')].map((bundle) => weft(['check', '--bundle', bundle, dir])))

    expect(runs.map((r) => r.stderr)).toEqual([
      `--bundle ${missing}: no such file\n`,
      `--bundle ${dir}: is a directory, not a file\n`,
      `--bundle ${join(dir, 'notes.pem')}: no certificate in the file\n`,
    ])
    expect(runs.map((r) => r.code)).toEqual([1, 1, 1])
  })
})
