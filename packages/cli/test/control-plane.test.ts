import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTrustAnchor } from '@weft/mtls'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { type ControlPlaneFlags, runControlPlane } from '../src/commands/control-plane.js'
import { createProgram } from '../src/index.js'
import { launcher, weft } from './launcher.js'

const quiet = { warn() {}, info() {} }

async function folder(yaml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cli-cp-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'mesh.yaml'), yaml)
  return dir
}

/** A policy folder that also holds a development trust anchor and a tokens.json of `tokens`; `flags` serve it with both. */
async function anchoredFolder(tokens: unknown = {}) {
  const dir = await folder('apiVersion: weft.dev/v1\nservices: {}\n')
  const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
  const files = { anchorCert: join(dir, 'anchor.pem'), anchorKey: join(dir, 'anchor.key'), bootstrapTokens: join(dir, 'tokens.json') }
  await writeFile(files.anchorCert, anchor.cert)
  await writeFile(files.anchorKey, anchor.key)
  await writeFile(files.bootstrapTokens, JSON.stringify(tokens))
  const flags: ControlPlaneFlags = { dir, port: '0', host: '127.0.0.1', etcdPrefix: '/weft/', ...files }
  return { dir, ...files, flags }
}

describe('weft control-plane', () => {
  it('is a registered sub-command with --dir, --port and --host', () => {
    const command = createProgram().commands.find((c) => c.name() === 'control-plane')
    expect(command?.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--dir', '--port', '--host', '--etcd']))
  })

  it('serves the folder it is given and says where', async () => {
    const dir = await folder('apiVersion: weft.dev/v1\nservices:\n  payments:\n    endpoints: [ { address: 127.0.0.1:8081 } ]\n')
    const lines: string[] = []
    const cp = await runControlPlane({ dir, port: '0', host: '127.0.0.1', etcdPrefix: '/weft/' }, { warn() {}, info: (l) => lines.push(l) })
    onTestFinished(() => cp.close())

    const res = await fetch(`${cp.url}/v1/policy?service=checkout`)

    expect(res.status).toBe(200)
    expect(lines).toEqual([
      expect.stringMatching(/^serving policy version [0-9a-f]{12} from .*mesh\.yaml$/),
      `listening on ${cp.url}, policy from dir:${dir}`,
    ])
  })

  it('says where it listens once, on one line', async () => {
    const dir = await folder('apiVersion: weft.dev/v1\nservices: {}\n')
    const child = spawn(process.execPath, [launcher, 'control-plane', '--dir', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const closed = new Promise((resolve) => child.on('close', resolve))
    onTestFinished(() => void (child.exitCode === null && child.kill()))
    let stdout = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))

    await vi.waitFor(() => expect(stdout).toContain('listening on'), { timeout: 10_000 })
    child.kill('SIGTERM') // the command closes the control plane and exits 0; all it printed is in stdout then

    expect(await closed).toBe(0)
    expect(stdout.match(/http:\/\/127\.0\.0\.1:\d+/g)).toHaveLength(1)
  })

  it('issues certificates over HTTPS when given a trust anchor', async () => {
    const { flags } = await anchoredFolder({ t0ken: 'checkout' })

    const cp = await runControlPlane(flags, quiet)
    onTestFinished(() => cp.close())

    expect(cp.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    expect(cp.status().certificates).toEqual({ issued: 0, refused: 0 })
  })

  it('refuses both or neither of --dir and --etcd, and a bad port', async () => {
    await expect(runControlPlane({ port: '0', host: '127.0.0.1', etcdPrefix: '/weft/' })).rejects.toThrow('exactly one of --dir')
    await expect(
      runControlPlane({ dir: '.', etcd: 'http://127.0.0.1:2379', port: '0', host: '127.0.0.1', etcdPrefix: '/weft/' }),
    ).rejects.toThrow('exactly one of --dir')
    await expect(runControlPlane({ dir: '.', port: '77x', host: '127.0.0.1', etcdPrefix: '/weft/' })).rejects.toThrow(
      '--port must be a port number',
    )
  })

  it('refuses --dir naming the document rather than its folder, instead of serving nothing from a "folder" with no mesh.yaml', async () => {
    const dir = await folder('apiVersion: weft.dev/v1\nservices: {}\n')

    await expect(
      runControlPlane({ dir: join(dir, 'mesh.yaml'), port: '0', host: '127.0.0.1', etcdPrefix: '/weft/' }, quiet),
    ).rejects.toThrow(`--dir takes the folder holding the document, not the file: --dir ${dir}`)
  })

  it('refuses a --bootstrap-tokens file that is not a JSON object of token → service, naming the file', async () => {
    const { dir, bootstrapTokens, flags } = await anchoredFolder([1, 2])

    await expect(runControlPlane({ ...flags, bootstrapTokens: join(dir, 'mesh.yaml') }, quiet)).rejects.toThrow(
      `--bootstrap-tokens ${join(dir, 'mesh.yaml')}: not JSON`,
    )
    await expect(runControlPlane(flags, quiet)).rejects.toThrow(
      `--bootstrap-tokens ${bootstrapTokens}: must be an object { "<token>": "<service>" }`,
    )
  })

  it('a --bootstrap-tokens entry createControlPlane refuses is one line naming the file and the entry, never the token, exit 1', async () => {
    const { dir, anchorCert, anchorKey, bootstrapTokens } = await anchoredFolder({ 't0ken-one': 'checkout', 't0ken-two': 'not a name' })
    const anchor = ['--anchor-cert', anchorCert, '--anchor-key', anchorKey]

    const { code, stderr } = await weft(['control-plane', '--dir', dir, '--port', '0', ...anchor, '--bootstrap-tokens', bootstrapTokens])

    expect(stderr).toBe(
      `weft control-plane: --bootstrap-tokens ${bootstrapTokens}: entry 2: the service must be a service name, got "not a name"\n`,
    )
    expect(stderr).not.toContain('t0ken')
    expect(code).toBe(1)
  })

  it('a --cert-lifetime that is not a duration, or an --anchor-cert that is missing, is one line naming the flag, exit 1', async () => {
    const { dir, anchorCert, anchorKey } = await anchoredFolder()
    const start = (cert: string, lifetime: string) =>
      weft(['control-plane', '--dir', dir, '--port', '0', '--anchor-cert', cert, '--anchor-key', anchorKey, '--cert-lifetime', lifetime])

    const [badLifetime, noCert] = await Promise.all([start(anchorCert, 'abc'), start(join(dir, 'nope.pem'), '24h')])

    expect(badLifetime.stderr).toBe(
      'weft control-plane: --cert-lifetime must be a duration like 24h or 90m, above zero and at most about 24.8 days, got abc\n',
    )
    expect(noCert.stderr).toBe(`weft control-plane: --anchor-cert ${join(dir, 'nope.pem')}: no such file\n`)
    expect([badLifetime.code, noCert.code]).toEqual([1, 1])
  })

  it('a --port another process holds is one line naming the flag and the address, exit 1, not a bare EADDRINUSE', async () => {
    const dir = await folder('apiVersion: weft.dev/v1\nservices: {}\n')
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => new Promise<void>((resolve) => holder.close(() => resolve())))
    const { port } = holder.address() as { port: number }

    const { code, stderr } = await weft(['control-plane', '--dir', dir, '--port', String(port)])

    expect(stderr).toBe(`weft control-plane: --port ${port}: 127.0.0.1:${port} is already in use; give another port, or 0 for any\n`)
    expect(code).toBe(1)
  })
})
