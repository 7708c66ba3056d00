/** The etcd store against a real etcd (Debian's etcd-server) on loopback. */
import { createAgent } from '@weft/agent'
import type { Policy } from '@weft/policy'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createControlPlane, etcdStore } from '../src/index.js'
import { get, meshYaml, quiet, recordingLogger, startEtcd } from './helpers.js'

async function replica(etcdUrl: string, logger: { warn(message: string): void; info?(message: string): void } = quiet) {
  const cp = await createControlPlane({
    store: etcdStore({ endpoints: [etcdUrl], retry: { base: '20ms', max: '200ms' } }),
    port: 0,
    logger,
  })
  onTestFinished(() => cp.close())
  return cp
}

describe('the etcd store', () => {
  it('serves the document at /weft/mesh and follows changes through a watch', async () => {
    const etcd = await startEtcd()
    await etcd.gateway.put('/weft/mesh', meshYaml(8081))
    const cp = await replica(etcd.url)
    const before = cp.status().version
    expect(before).toBeDefined()
    expect(cp.status().store).toBe(`etcd:${etcd.url}/weft/mesh`)
    const poll = get(`${cp.url}/v1/policy?service=checkout&wait=30s`, { 'if-none-match': `"${before}"` })
    await vi.waitFor(() => expect(cp.status().watchers).toBe(1))

    await etcd.gateway.put('/weft/mesh', meshYaml(9091))

    const res = await poll
    expect(res.status).toBe(200)
    expect(res.text).toContain('127.0.0.1:9091')
  })

  it('an invalid document put in etcd is never served', async () => {
    const etcd = await startEtcd()
    await etcd.gateway.put('/weft/mesh', meshYaml(8081))
    const logger = recordingLogger()
    const cp = await replica(etcd.url, logger)
    const good = cp.status().version

    await etcd.gateway.put('/weft/mesh', `${meshYaml(8081)}    weight: -1\n`)
    await vi.waitFor(() => expect(cp.status().lastError).toBeDefined())
    await etcd.gateway.delete('/weft/mesh')
    await vi.waitFor(() => expect(cp.status().lastError?.message).toContain('was deleted'))

    expect(cp.status().version).toBe(good)
    expect((await get(`${cp.url}/v1/policy?service=checkout`)).headers.get('etag')).toBe(`"${good}"`)
    expect(logger.warnings.join('\n')).toContain('fails validation')
  })

  it('two replicas on one etcd serve the same version; killing one, agents fail over to the other', async () => {
    const etcd = await startEtcd()
    await etcd.gateway.put('/weft/mesh', meshYaml(8081))
    const one = await replica(etcd.url)
    const two = await replica(etcd.url)
    expect(one.status().version).toBe(two.status().version)

    const applied: Policy[] = []
    const agent = createAgent({
      source: [one.url, two.url],
      service: 'checkout',
      logger: quiet,
      backoff: { base: '10ms', max: '100ms' },
      onPolicy: (p) => void applied.push(p),
    })
    onTestFinished(() => agent.close())
    await agent.start()
    await vi.waitFor(() => expect(one.status().watchers).toBe(1))

    await one.close()
    await vi.waitFor(() => expect(two.status().watchers).toBe(1))
    await etcd.gateway.put('/weft/mesh', meshYaml(9091))

    await vi.waitFor(() => expect(applied).toHaveLength(1))
    expect(applied[0]?.version).toBe(two.status().version)
    expect(applied[0]?.services.payments?.endpoints[0]?.port).toBe(9091)
  })

  it('etcd gone: the control plane keeps serving the last good version and says so', async () => {
    const etcd = await startEtcd()
    await etcd.gateway.put('/weft/mesh', meshYaml(8081))
    const cp = await replica(etcd.url)
    const good = cp.status().version

    await etcd.stop()

    await vi.waitFor(() => expect(cp.status().lastError?.message).toContain(etcd.url))
    const res = await get(`${cp.url}/v1/policy?service=checkout`)
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe(`"${good}"`)
  })
})
