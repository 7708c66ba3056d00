import { ManualClock } from '@weft/core/testing'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createControlPlane } from '../src/index.js'
import { get, meshYaml, policyDir, quiet, recordingLogger } from './helpers.js'

async function start(dir: string, extra: Partial<Parameters<typeof createControlPlane>[0]> = {}) {
  const cp = await createControlPlane({ dir, port: 0, logger: quiet, ...extra })
  onTestFinished(() => cp.close())
  return cp
}

describe('GET /v1/policy', () => {
  it('answers the whole mesh document for the service that asked, with an ETag', async () => {
    const { dir } = await policyDir(meshYaml(8081))
    const cp = await start(dir)

    const res = await get(`${cp.url}/v1/policy?service=checkout`)

    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(res.headers.get('etag')).toBe(`"${cp.status().version}"`)
    expect(res.json()).toEqual({
      service: 'checkout',
      version: cp.status().version,
      document: { apiVersion: 'weft.dev/v1', services: { payments: { endpoints: [{ address: '127.0.0.1:8081' }] } } },
    })
  })

  it('answers 304 at once to If-None-Match with the current version and no wait', async () => {
    const { dir } = await policyDir()
    const cp = await start(dir)
    const etag = `"${cp.status().version}"`

    const res = await get(`${cp.url}/v1/policy?service=checkout`, { 'if-none-match': etag })

    expect(res.status).toBe(304)
    expect(res.headers.get('etag')).toBe(etag)
  })

  it('answers 200 at once to an If-None-Match naming an old version', async () => {
    const { dir } = await policyDir()
    const cp = await start(dir)

    const res = await get(`${cp.url}/v1/policy?service=checkout&wait=30s`, { 'if-none-match': '"an-old-one"' })

    expect(res.status).toBe(200)
  })

  it('a long poll is answered 200 as soon as the document changes', async () => {
    const { dir, write } = await policyDir(meshYaml(8081))
    const cp = await start(dir)
    const before = cp.status().version
    const poll = get(`${cp.url}/v1/policy?service=checkout&wait=30s`, { 'if-none-match': `"${before}"` })
    await vi.waitFor(() => expect(cp.status().watchers).toBe(1))

    await write(meshYaml(9091))
    const res = await poll

    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).not.toBe(`"${before}"`)
    expect((res.json() as { document: unknown }).document).toMatchObject({
      services: { payments: { endpoints: [{ address: '127.0.0.1:9091' }] } },
    })
    expect(cp.status().watchers).toBe(0)
  })

  it('a long poll is answered 304 when nothing changed within the wait', async () => {
    const clock = new ManualClock()
    const { dir } = await policyDir()
    const cp = await start(dir, { clock })
    let answered: Awaited<ReturnType<typeof get>> | undefined
    const poll = get(`${cp.url}/v1/policy?service=checkout&wait=30s`, { 'if-none-match': `"${cp.status().version}"` }).then(
      (r) => (answered = r),
    )
    await vi.waitFor(() => expect(cp.status().watchers).toBe(1))

    await clock.advance('29s')
    expect(answered).toBeUndefined()
    await clock.advance('1s')
    await poll

    expect(answered?.status).toBe(304)
  })

  it('a wait longer than maxWait is cut to maxWait', async () => {
    const clock = new ManualClock()
    const { dir } = await policyDir()
    const cp = await start(dir, { clock, maxWait: '5s' })
    const poll = get(`${cp.url}/v1/policy?service=checkout&wait=1h`, { 'if-none-match': `"${cp.status().version}"` })
    await vi.waitFor(() => expect(cp.status().watchers).toBe(1))

    await clock.advance('5s')

    expect((await poll).status).toBe(304)
  })

  it('refuses a request without a service name, with a bad wait, or with another method', async () => {
    const { dir } = await policyDir()
    const cp = await start(dir)

    expect((await get(`${cp.url}/v1/policy`)).status).toBe(400)
    expect((await get(`${cp.url}/v1/policy?service=../../etc`)).status).toBe(400)
    const badWait = await get(`${cp.url}/v1/policy?service=checkout&wait=10%20s`)
    expect(badWait.status).toBe(400)
    expect(badWait.text).toContain('invalid duration')
    expect((await fetch(`${cp.url}/v1/policy?service=checkout`, { method: 'POST' })).status).toBe(405)
    expect((await get(`${cp.url}/nowhere`)).status).toBe(404)
  })

  it('close() answers the long polls it holds with 503', async () => {
    const { dir } = await policyDir()
    const cp = await createControlPlane({ dir, port: 0, logger: quiet })
    const poll = get(`${cp.url}/v1/policy?service=checkout&wait=30s`, { 'if-none-match': `"${cp.status().version}"` })
    await vi.waitFor(() => expect(cp.status().watchers).toBe(1))

    await cp.close()

    expect((await poll).status).toBe(503)
  })
})

describe('a document that fails validation', () => {
  it('is never served: the last good version stays and the error is visible', async () => {
    const { dir, write } = await policyDir(meshYaml(8081))
    const logger = recordingLogger()
    const cp = await start(dir, { logger })
    const good = cp.status().version

    await write(`${meshYaml(8081)}    retires: { attempts: 3 }\n`)
    await vi.waitFor(() => expect(cp.status().lastError).toBeDefined())

    const res = await get(`${cp.url}/v1/policy?service=checkout`)
    expect(res.headers.get('etag')).toBe(`"${good}"`)
    expect(cp.status().version).toBe(good)
    expect(cp.status().lastError?.message).toContain('retires')
    expect(logger.warnings.at(-1)).toContain(`still serving version ${good}`)
    const status = (await get(`${cp.url}/v1/status`)).json()
    expect(status).toMatchObject({ version: good, lastError: { message: expect.stringContaining('retires') } })
    const metrics = (await get(`${cp.url}/metrics`)).text
    expect(metrics).toContain('weft_control_plane_policy_problem 1')
    expect(metrics).toContain(`weft_control_plane_policy_info{version="${good}"} 1`)
  })

  it('a fixed document clears the error and is served', async () => {
    const { dir, write } = await policyDir(meshYaml(8081))
    const cp = await start(dir)
    await write('apiVersion: weft.dev/v9\n')
    await vi.waitFor(() => expect(cp.status().lastError).toBeDefined())

    await write(meshYaml(9091))

    await vi.waitFor(() => expect(cp.status().lastError).toBeUndefined())
    expect((await get(`${cp.url}/metrics`)).text).toContain('weft_control_plane_policy_problem 0')
    const res = await get(`${cp.url}/v1/policy?service=checkout`)
    expect(res.text).toContain('127.0.0.1:9091')
  })

  it('with no valid document yet, polls get 503 with the reason', async () => {
    const { dir } = await policyDir('apiVersion: weft.dev/v1\nservices: [ nope ]\n')
    const cp = await start(dir)

    const res = await get(`${cp.url}/v1/policy?service=checkout`)

    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect((res.json() as { error: { message: string } }).error.message).toContain('no valid policy to serve yet')
  })

  it('two documents in the folder (mesh.yaml and mesh.json) are refused as ambiguous', async () => {
    const { dir, write } = await policyDir(meshYaml(8081))
    const cp = await start(dir)
    const good = cp.status().version

    await write('{"apiVersion":"weft.dev/v1","services":{}}', 'mesh.json')

    await vi.waitFor(() => expect(cp.status().lastError?.message).toContain('mesh.yaml and mesh.json; keep exactly one'))
    expect(cp.status().version).toBe(good)
  })

  it('an empty folder serves nothing and says why', async () => {
    const { dir } = await policyDir()
    const { rm } = await import('node:fs/promises')
    await rm(`${dir}/mesh.yaml`)
    const cp = await start(dir)

    expect(cp.status().version).toBeUndefined()
    expect(cp.status().lastError?.message).toContain('no mesh.yaml, mesh.yml, mesh.json in')
  })
})
