import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { loadPolicy, parsePolicy } from '../src/index.js'
import { fixture, fixturePath } from './helpers.js'

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'weft-policy-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

describe('loadPolicy', () => {
  it('loads a YAML file from an absolute path', async () => {
    const policy = await loadPolicy(fixturePath('design-example.yaml'))
    expect(policy).toEqual({ ...parsePolicy(fixture('design-example.yaml')), file: fixturePath('design-example.yaml') })
  })

  it('names the file it read, as an absolute path; text and objects name none', async () => {
    const path = relative(process.cwd(), fixturePath('mesh.json'))

    expect((await loadPolicy(path)).file).toBe(fixturePath('mesh.json'))
    expect((await loadPolicy(fixture('mesh.json'))).file).toBeUndefined()
    expect((await loadPolicy({ apiVersion: 'weft.dev/v1', services: {} })).file).toBeUndefined()
  })

  it('loads a file from a path relative to process.cwd()', async () => {
    const path = relative(process.cwd(), fixturePath('design-example.json'))
    expect(path.startsWith('/')).toBe(false)
    expect((await loadPolicy(path)).services.payments?.endpoints).toHaveLength(2)
  })

  it('reads a .json file as JSON', async () => {
    expect((await loadPolicy(fixturePath('mesh.json'))).services.payments?.endpoints[0]?.address).toBe('127.0.0.1:8081')
  })

  it('sniffs the format of a file with another extension', async () => {
    expect((await loadPolicy(fixturePath('mesh.policy'))).services.payments?.endpoints[0]?.port).toBe(8081)
  })

  it('takes YAML text: a string with a newline is a document, not a path', async () => {
    expect((await loadPolicy(fixture('design-example.yaml'))).services.payments).toBeDefined()
  })

  it('takes one-line JSON text', async () => {
    const policy = await loadPolicy('{"apiVersion":"weft.dev/v1","services":{}}')
    expect(policy.services).toEqual({})
  })

  it('takes one-line YAML text that starts with apiVersion', async () => {
    expect((await loadPolicy('apiVersion: weft.dev/v1')).services).toEqual({})
  })

  it('takes a Buffer holding a document as text', async () => {
    expect((await loadPolicy(Buffer.from(fixture('mesh.policy')))).services.payments?.endpoints).toHaveLength(1)
  })

  it('takes an object', async () => {
    expect((await loadPolicy({ apiVersion: 'weft.dev/v1', services: { payments: {} } })).services.payments?.name).toBe('payments')
  })

  it('a file that is not there is WEFT_POLICY_INVALID, naming the file, with the fs error as cause', async () => {
    const err = await loadPolicy('./no-such-mesh.yaml').catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WEFT_POLICY_INVALID', details: { source: './no-such-mesh.yaml' } })
    expect((err as Error).message).toContain('no-such-mesh.yaml: no such file')
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('ENOENT')
  })

  it('a directory is refused', async () => {
    const dir = await tempDir()
    await expect(loadPolicy(dir)).rejects.toMatchObject({ code: 'WEFT_POLICY_INVALID', message: expect.stringContaining('not a file') })
  })

  it('a file over the size limit is refused before it is read', async () => {
    const dir = await tempDir()
    const path = join(dir, 'mesh.yaml')
    await writeFile(path, `apiVersion: weft.dev/v1\n# ${'x'.repeat(2048)}\n`)
    await expect(loadPolicy(path, { maxBytes: 1024 })).rejects.toMatchObject({
      code: 'WEFT_POLICY_INVALID',
      message: expect.stringContaining('over the limit of 1024 bytes (1 KiB)'),
    })
  })

  it('an invalid file names the file in the message', async () => {
    const dir = await tempDir()
    const path = join(dir, 'mesh.yaml')
    await writeFile(path, 'apiVersion: weft.dev/v1\nservices:\n  payments:\n    retires: 3\n')
    const err = await loadPolicy(path).catch((e: unknown) => e)
    expect((err as Error).message).toBe(
      `policy ${path} is invalid (1 issue): services.payments.retires: unknown key (did you mean retries?) (line 4, column 5)`,
    )
  })

  it('a .json file holding YAML is refused as JSON', async () => {
    const dir = await tempDir()
    const path = join(dir, 'mesh.json')
    await writeFile(path, 'apiVersion: weft.dev/v1\nservices: {}\n')
    await expect(loadPolicy(path)).rejects.toMatchObject({ message: expect.stringContaining('not valid JSON') })
  })
})
