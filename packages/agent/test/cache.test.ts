/** The on-disk cache: a restart works while the control plane is down; a bad cache is never trusted. */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createControlPlane } from '@weft/control-plane'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createAgent } from '../src/index.js'
import { meshYaml, policyDir, recordingLogger, scriptedServer, tempDir } from './helpers.js'

const quiet = { warn() {}, info() {} }

async function deadSource(): Promise<string> {
  const s = await scriptedServer(() => {})
  await s.close()
  return s.url
}

describe('the policy cache', () => {
  it('control plane down at start: the agent starts from its disk cache', async () => {
    const { dir } = await policyDir(meshYaml([8081]))
    const cache = join(await tempDir(), 'policy-cache.json')
    const cp = await createControlPlane({ dir, port: 0, logger: quiet })
    const first = createAgent({ source: cp.url, service: 'checkout', cache, logger: quiet })
    const served = await first.start()
    await first.close()
    await cp.close()

    const logger = recordingLogger()
    const agent = createAgent({ source: cp.url, service: 'checkout', cache, logger })
    onTestFinished(() => agent.close())
    const policy = await agent.start()

    expect(policy.version).toBe(served.version)
    expect(policy.services.payments?.endpoints[0]?.port).toBe(8081)
    expect(agent.status()).toMatchObject({ origin: 'cache', state: 'degraded', version: served.version })
    expect(logger.warnings[0]).toContain('ECONNREFUSED')
  })

  it('a corrupt cache is ignored with a warning, and the control plane is asked as usual', async () => {
    const { dir } = await policyDir()
    const cache = join(await tempDir(), 'policy-cache.json')
    await writeFile(cache, '{"service":"checkout","version":"v1","docu')
    const cp = await createControlPlane({ dir, port: 0, logger: quiet })
    onTestFinished(() => cp.close())
    const logger = recordingLogger()
    const agent = createAgent({ source: cp.url, service: 'checkout', cache, logger })
    onTestFinished(() => agent.close())

    const policy = await agent.start()

    expect(agent.status().origin).toBe('control-plane')
    expect(logger.warnings[0]).toContain(`cache file ${cache} is not JSON`)
    await vi.waitFor(async () =>
      expect(JSON.parse(await readFile(cache, 'utf8'))).toMatchObject({ version: policy.version, service: 'checkout' }),
    )
  })

  it('a corrupt cache with the control plane down: start() fails rather than trust it', async () => {
    const cache = join(await tempDir(), 'policy-cache.json')
    await writeFile(cache, JSON.stringify({ service: 'checkout', version: 'v1', document: { apiVersion: 'weft.dev/v2', services: {} } }))
    const logger = recordingLogger()
    const agent = createAgent({
      source: await deadSource(),
      service: 'checkout',
      cache,
      logger,
      startTimeout: '300ms',
      backoff: { base: '10ms', max: '50ms' },
    })

    await expect(agent.start()).rejects.toMatchObject({ code: 'WEFT_POLICY_UNAVAILABLE' })
    expect(logger.warnings[0]).toContain('fails validation; ignored')
  })

  it("another service's cache is not used", async () => {
    const cache = join(await tempDir(), 'policy-cache.json')
    await writeFile(cache, JSON.stringify({ service: 'payments', version: 'v1', document: { apiVersion: 'weft.dev/v1', services: {} } }))
    const logger = recordingLogger()
    const agent = createAgent({
      source: await deadSource(),
      service: 'checkout',
      cache,
      logger,
      startTimeout: '300ms',
      backoff: { base: '10ms', max: '50ms' },
    })

    await expect(agent.start()).rejects.toMatchObject({ code: 'WEFT_POLICY_UNAVAILABLE' })
    expect(logger.warnings[0]).toContain('holds the policy of service "payments", not "checkout"')
  })

  it('is rewritten atomically: a reader never sees half a file', async () => {
    // a large document, so a write in place would be seen half done
    const big = (n: number) =>
      meshYaml(
        [n],
        `  big:\n    endpoints: [ ${Array.from({ length: 4000 }, (_, i) => `{ address: 10.0.${i >> 8}.${i & 255}:${n} }`).join(', ')} ]\n`,
      )
    const { dir, write } = await policyDir(big(1))
    const folder = await tempDir()
    const cache = join(folder, 'policy-cache.json')
    const cp = await createControlPlane({ dir, port: 0, logger: quiet })
    onTestFinished(() => cp.close())
    const versions = new Set<string>()
    const agent = createAgent({ source: cp.url, service: 'checkout', cache, logger: quiet, onPolicy: (p) => void versions.add(p.version) })
    onTestFinished(() => agent.close())
    await agent.start()
    await vi.waitFor(() => readFile(cache), { timeout: 10_000 })

    let reads = 0
    let torn = 0
    let writing = true
    const reader = (async () => {
      while (writing) {
        const text = await readFile(cache, 'utf8')
        reads++
        try {
          JSON.parse(text)
        } catch {
          torn++
        }
      }
    })()
    for (let n = 2; n <= 6; n++) {
      await write(big(n))
      await vi.waitFor(() => expect(versions.size).toBe(n - 1), { timeout: 3000 })
    }
    writing = false
    await reader
    await agent.close()

    expect(reads).toBeGreaterThan(10)
    expect(torn).toBe(0)
    expect(await readdir(folder)).toEqual(['policy-cache.json'])
  })
})
