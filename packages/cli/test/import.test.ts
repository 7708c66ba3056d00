import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parsePolicy } from '@weft/policy'
import { describe, expect, it, onTestFinished } from 'vitest'
import { runImport } from '../src/commands/import.js'
import { createProgram } from '../src/index.js'
import { weft } from './launcher.js'

const fixture = (name: string) => fileURLToPath(new URL(`../../traffic/test/fixtures/${name}`, import.meta.url))

describe('weft import', () => {
  it('is a registered sub-command with --out and --json', () => {
    const command = createProgram().commands.find((c) => c.name() === 'import')
    expect(command?.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--out', '--json']))
  })

  it('prints a policy that validates, and exits 0 when everything translated', async () => {
    let out = ''
    let err = ''
    const code = await runImport(
      [fixture('istio-virtualservice.yaml')],
      {},
      (t) => (out += t),
      (t) => (err += t),
    )

    expect(code).toBe(0)
    expect(parsePolicy(out).services['my-api']?.routes[0]?.split).toEqual([{ subset: 'v2', weight: 100 }])
    expect(err).not.toContain('not translated')
  })

  it('writes the policy with --out, lists what did not translate, and exits 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-import-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const target = join(dir, 'mesh.yaml')
    let err = ''

    const code = await runImport(
      [fixture('istio-destinationrule.yaml')],
      { out: target },
      () => {},
      (t) => (err += t),
    )

    expect(code).toBe(2)
    expect(parsePolicy(await readFile(target, 'utf8')).services['my-api']?.subsets).toEqual({
      v1: { version: 'v1' },
      v2: { version: 'v2' },
    })
    expect(err).toContain('× not translated: DestinationRule/my-api spec.trafficPolicy.connectionPool.http.h2UpgradePolicy')
  })

  it('--json gives the document, the untranslated fields and the warnings; --out still gets the policy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-import-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    let out = ''
    await runImport([fixture('smi-trafficsplit.yaml')], { json: true, out: join(dir, 'mesh.yaml') }, (t) => (out += t))
    expect(parsePolicy(await readFile(join(dir, 'mesh.yaml'), 'utf8')).services['e8-render-svc']?.routes[0]?.split).toHaveLength(3)
    const parsed = JSON.parse(out)
    expect(parsed.document.apiVersion).toBe('weft.dev/v1')
    expect(parsed.warnings.length).toBeGreaterThan(0)
    expect(parsed.untranslated).toEqual([])
  })
})

describe('weft import of files it cannot read', () => {
  it('rejects with the file named, so the command prints one line and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-import-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'kind: [unclosed\n')

    await expect(runImport([fixture('istio-virtualservice.yaml'), bad], {}, () => {})).rejects.toThrow(
      new RegExp(`weft import: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not YAML`),
    )
  })

  it('a directory given as a file is one line naming it, exit 1, not a bare EISDIR', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-import-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))

    const { code, stderr } = await weft(['import', dir])

    expect(stderr).toBe(`weft import: ${dir}: is a directory, not a file\n`)
    expect(code).toBe(1)
  })
})
