import { createControlPlane } from '@weft/control-plane'
import { isWeftError } from '@weft/core'
import type { Policy } from '@weft/policy'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createAgent } from '../src/index.js'
import { meshYaml, policyDir, recordingLogger } from './helpers.js'

const quiet = { warn() {}, info() {} }

async function controlPlane(dir: string, port = 0) {
  const cp = await createControlPlane({ dir, port, logger: quiet })
  onTestFinished(() => cp.close())
  return cp
}

describe('following a control plane', () => {
  it('starts with the policy the control plane serves', async () => {
    const { dir } = await policyDir(meshYaml([8081, 8082]))
    const cp = await controlPlane(dir)
    const agent = createAgent({ source: cp.url, service: 'checkout', logger: quiet })
    onTestFinished(() => agent.close())

    const policy = await agent.start()

    expect(policy.services.payments?.endpoints.map((e) => e.port)).toEqual([8081, 8082])
    expect(policy.version).toBe(cp.status().version)
    expect(agent.status()).toMatchObject({
      state: 'synced',
      origin: 'control-plane',
      version: cp.status().version,
      rejected: 0,
      failures: 0,
    })
    expect(agent.status().lastSync).toBeTypeOf('number')
  })

  it('a change on disk reaches onPolicy through the held long poll', async () => {
    const { dir, write } = await policyDir(meshYaml([8081]))
    const cp = await controlPlane(dir)
    const applied: Policy[] = []
    const agent = createAgent({ source: cp.url, service: 'checkout', logger: quiet, onPolicy: (p) => void applied.push(p) })
    onTestFinished(() => agent.close())
    const first = await agent.start()
    await vi.waitFor(() => expect(cp.status().watchers).toBe(1))

    await write(meshYaml([9091]))

    await vi.waitFor(() => expect(applied).toHaveLength(1), { timeout: 1000 })
    expect(applied[0]?.services.payments?.endpoints[0]?.port).toBe(9091)
    expect(applied[0]?.version).not.toBe(first.version)
    expect(agent.status().version).toBe(applied[0]?.version)
  })

  it('start() never calls onPolicy for the policy it resolves with', async () => {
    const { dir } = await policyDir()
    const cp = await controlPlane(dir)
    const onPolicy = vi.fn()
    const agent = createAgent({ source: cp.url, service: 'checkout', logger: quiet, onPolicy })
    onTestFinished(() => agent.close())

    await agent.start()
    await vi.waitFor(() => expect(cp.status().watchers).toBe(1))

    expect(onPolicy).not.toHaveBeenCalled()
  })

  it('a policy the mesh refuses in onPolicy is counted and the last good stays', async () => {
    const { dir, write } = await policyDir(meshYaml([8081]))
    const cp = await controlPlane(dir)
    const logger = recordingLogger()
    const agent = createAgent({
      source: cp.url,
      service: 'checkout',
      logger,
      backoff: { base: '10ms', max: '20ms' },
      onPolicy: () => Promise.reject(new Error('the mesh said no')),
    })
    onTestFinished(() => agent.close())
    const first = await agent.start()

    await write(meshYaml([9091]))

    await vi.waitFor(() => expect(agent.status().rejected).toBeGreaterThan(0))
    expect(agent.status()).toMatchObject({ version: first.version, state: 'degraded' })
    expect(agent.status().lastError).toMatchObject({ kind: 'apply' })
    expect(logger.warnings.join('\n')).toContain('the mesh said no')
  })

  it('control plane down mid-run: the policy stays, and the agent catches up when it returns', async () => {
    const { dir, write } = await policyDir(meshYaml([8081]))
    let cp = await controlPlane(dir)
    const port = Number(new URL(cp.url).port)
    const applied: Policy[] = []
    const agent = createAgent({
      source: cp.url,
      service: 'checkout',
      logger: quiet,
      backoff: { base: '20ms', max: '100ms' },
      onPolicy: (p) => void applied.push(p),
    })
    onTestFinished(() => agent.close())
    const first = await agent.start()
    await vi.waitFor(() => expect(cp.status().watchers).toBe(1))

    await cp.close()
    await vi.waitFor(() => expect(agent.status().failures).toBeGreaterThan(1))
    expect(agent.status()).toMatchObject({ state: 'degraded', version: first.version })
    expect(applied).toHaveLength(0)

    await write(meshYaml([9091]))
    cp = await controlPlane(dir, port)

    await vi.waitFor(() => expect(applied).toHaveLength(1), { timeout: 2000 })
    expect(applied[0]?.services.payments?.endpoints[0]?.port).toBe(9091)
    expect(agent.status().state).toBe('synced')
  })

  it('fails over to the next replica when one is gone', async () => {
    const { dir, write } = await policyDir(meshYaml([8081]))
    const one = await controlPlane(dir)
    const two = await controlPlane(dir)
    const applied: Policy[] = []
    const agent = createAgent({
      source: [one.url, two.url],
      service: 'checkout',
      logger: quiet,
      backoff: { base: '10ms', max: '50ms' },
      onPolicy: (p) => void applied.push(p),
    })
    onTestFinished(() => agent.close())
    await agent.start()
    await vi.waitFor(() => expect(one.status().watchers).toBe(1))

    await one.close()
    await vi.waitFor(() => expect(two.status().watchers).toBe(1))
    await write(meshYaml([9091]))

    await vi.waitFor(() => expect(applied).toHaveLength(1))
    expect(agent.status().source).toBe(two.url)
  })

  it('rejects a bad service name or source at once', () => {
    const bad = (f: () => unknown) => {
      try {
        f()
      } catch (err) {
        return isWeftError(err) ? err.code : err
      }
      return 'no error'
    }
    expect(bad(() => createAgent({ source: 'http://127.0.0.1:1', service: '../etc' }))).toBe('WEFT_INVALID_ARGUMENT')
    expect(bad(() => createAgent({ source: 'ftp://127.0.0.1:1', service: 'checkout' }))).toBe('WEFT_INVALID_ARGUMENT')
    expect(bad(() => createAgent({ source: [], service: 'checkout' }))).toBe('WEFT_INVALID_ARGUMENT')
  })
})
