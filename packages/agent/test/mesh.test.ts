/**
 * The agent inside a mesh: createMesh({ policy: { source, cache } }) against a real control plane, real
 * upstreams and real undici on loopback.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createMesh } from '@weft/client'
import { createControlPlane } from '@weft/control-plane'
import { createTrustAnchor } from '@weft/mtls'
import { type Dispatcher, request } from 'undici'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { listen, type Upstream } from '../../../test/support/servers.js'
import { policyDir, tempDir } from './helpers.js'

const quiet = { warn() {}, info() {} }

const meshFor = (...ups: Upstream[]) =>
  `apiVersion: weft.dev/v1\nservices:\n  payments:\n    endpoints: [ ${ups.map((u) => `{ address: ${u.address} }`).join(', ')} ]\n`

async function upstream(name: string): Promise<Upstream> {
  const up = await listen((_req, res) => {
    res.end(name)
  })
  onTestFinished(() => up.close())
  return up
}

async function call(mesh: { dispatcher: Dispatcher }) {
  const res = await request('http://payments/charge', { dispatcher: mesh.dispatcher })
  return { status: res.statusCode, body: await res.body.text() }
}

describe('a mesh that follows a control plane', () => {
  it('a policy change on disk reaches a running mesh within 1 s and changes its routing, with no failed request under 50 concurrent callers', async () => {
    const [a, b] = [await upstream('a'), await upstream('b')]
    const { dir, write } = await policyDir(meshFor(a))
    const cp = await createControlPlane({ dir, port: 0, logger: quiet })
    onTestFinished(() => cp.close())
    const mesh = await createMesh({ service: 'checkout', policy: { source: cp.url } })
    onTestFinished(() => mesh.close())
    await vi.waitFor(() => expect(cp.status().watchers).toBe(1))

    const before = mesh.policy.version
    // each answer with the policy version in force when its call started: the swap is atomic when every
    // call started under the new version reaches the new endpoint, and every earlier one the old
    const answers: { version: string; startedAt: number; body: string }[] = []
    const failures: unknown[] = []
    let stop = false
    const callers = Array.from({ length: 50 }, async () => {
      while (!stop) {
        const version = mesh.policy.version
        const startedAt = performance.now()
        try {
          const r = await call(mesh)
          if (r.status !== 200) failures.push(r)
          answers.push({ version, startedAt, body: r.body })
        } catch (err) {
          failures.push(err)
        }
      }
    })
    await vi.waitFor(() => expect(answers.length).toBeGreaterThan(200))

    const writtenAt = performance.now()
    await write(meshFor(b))
    await vi.waitFor(() => expect(mesh.policy.version).not.toBe(before), { timeout: 1000, interval: 5 })
    const after = mesh.policy.version
    await vi.waitFor(() => expect(answers.filter((x) => x.version === after).length).toBeGreaterThan(200))
    stop = true
    await Promise.all(callers)

    expect(failures).toEqual([])
    const firstNew = Math.min(...answers.filter((x) => x.version === after).map((x) => x.startedAt))
    expect(firstNew - writtenAt).toBeLessThan(1000)
    expect(answers.filter((x) => x.version === before).every((x) => x.body === 'a')).toBe(true)
    expect(answers.filter((x) => x.version === after).every((x) => x.body === 'b')).toBe(true)
    expect(mesh.policy.version).toBe(cp.status().version)
  })

  it('control plane down at start: the mesh starts from its disk cache and serves calls', async () => {
    const a = await upstream('a')
    const { dir } = await policyDir(meshFor(a))
    const cache = join(await tempDir(), 'policy-cache.json')
    const cp = await createControlPlane({ dir, port: 0, logger: quiet })
    const first = await createMesh({ service: 'checkout', policy: { source: cp.url, cache } })
    await vi.waitFor(async () => expect(await readFile(cache, 'utf8')).toContain('"service":"checkout"'))
    await first.close()
    await cp.close()

    const mesh = await createMesh({ service: 'checkout', policy: { source: cp.url, cache } })
    onTestFinished(() => mesh.close())

    expect(await call(mesh)).toEqual({ status: 200, body: 'a' })
    expect(mesh.policy.version).toBe(first.policy.version)
  })

  it('control plane down mid-run: the mesh keeps its policy, and recovers when it returns', async () => {
    const [a, b] = [await upstream('a'), await upstream('b')]
    const { dir, write } = await policyDir(meshFor(a))
    let cp = await createControlPlane({ dir, port: 0, logger: quiet })
    const port = Number(new URL(cp.url).port)
    const mesh = await createMesh({ service: 'checkout', policy: { source: cp.url } })
    onTestFinished(() => mesh.close())
    await vi.waitFor(() => expect(cp.status().watchers).toBe(1))

    await cp.close()
    for (let i = 0; i < 20; i++) expect(await call(mesh)).toEqual({ status: 200, body: 'a' })

    await write(meshFor(b))
    cp = await createControlPlane({ dir, port, logger: quiet })
    onTestFinished(() => cp.close())

    await vi.waitFor(async () => expect(await call(mesh)).toEqual({ status: 200, body: 'b' }), { timeout: 5000 })
  })

  it("the admin endpoint's /config shows the agent's status: version, last sync, last error", async () => {
    const a = await upstream('a')
    const { dir } = await policyDir(meshFor(a))
    const cp = await createControlPlane({ dir, port: 0, logger: quiet })
    onTestFinished(() => cp.close())
    const mesh = await createMesh({ service: 'checkout', policy: { source: cp.url } })
    onTestFinished(() => mesh.close())
    const admin = await mesh.admin({ port: 0 })

    const config = await (await fetch(`${admin.url}/config`)).json()

    expect(config.source).toBe('control-plane')
    expect(config.version).toBe(mesh.policy.version)
    expect(config.agent).toMatchObject({ version: mesh.policy.version, state: 'synced', origin: 'control-plane', rejected: 0, failures: 0 })
    expect(typeof config.agent.lastSync).toBe('number')
    expect(config.agent.lastError).toBeUndefined()
  })

  it('nothing answers and no cache: createMesh rejects with WEFT_POLICY_UNAVAILABLE', async () => {
    const dead = await listen()
    await dead.close()

    await expect(createMesh({ service: 'checkout', policy: { source: dead.url, startTimeout: '300ms' } })).rejects.toMatchObject({
      code: 'WEFT_POLICY_UNAVAILABLE',
    })
  })

  it('a script that only awaits createMesh, with nothing answering, hears WEFT_POLICY_UNAVAILABLE rather than exiting unsettled', async () => {
    const dead = await listen()
    await dead.close()
    // a fresh process with the built packages, and nothing else to keep it alive while the agent backs off
    const script = `
      import { createMesh } from '@weft/client'
      try {
        await createMesh({ service: 'checkout', policy: { source: '${dead.url}', startTimeout: '300ms' } })
      } catch (err) {
        console.log(err.code)
      }`
    const run = promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    })

    await expect(run).resolves.toMatchObject({ stdout: 'WEFT_POLICY_UNAVAILABLE\n' })
  })

  it('with an https control plane and identity: { dir }, the mesh gets its first certificate with a bootstrap token', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const { dir } = await policyDir('apiVersion: weft.dev/v1\nservices: {}\n')
    const cp = await createControlPlane({ dir, port: 0, logger: quiet, certificates: { anchor, bootstrapTokens: { t0ken: 'checkout' } } })
    onTestFinished(() => cp.close())
    const identity = await tempDir()

    const mesh = await createMesh({
      service: 'checkout',
      identity: { dir: identity },
      policy: { source: cp.url, ca: anchor.cert, token: 't0ken' },
    })
    onTestFinished(() => mesh.close())

    expect(mesh.identity).toBe('spiffe://weft.local/ns/default/sa/checkout')
    expect(mesh.policyStatus()).toMatchObject({ state: 'synced', certificate: { obtained: 1 } })
  })
})
