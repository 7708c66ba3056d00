import { testCall } from '@weft/core/testing'
import { createMeshMetrics, metrics } from '@weft/metrics'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type AdminSource, createAdminServer } from '../src/index.js'

function sourceWith(patch: Partial<AdminSource> = {}) {
  const meter = createMeshMetrics()
  const source: AdminSource = {
    registry: meter.registry,
    tap: meter.tap,
    config: () => ({ version: 'v1', source: 'mesh.yaml', document: { apiVersion: 'weft.dev/v1', services: {} } }),
    stack: () => ({ client: [{ role: 'trace', why: 'first' }], server: [] }),
    endpoints: () => ({ payments: [{ address: '127.0.0.1:8081', state: 'healthy', inFlight: 0 }] }),
    ...patch,
  }
  return { meter, source }
}

async function admin(patch: Partial<AdminSource> = {}) {
  const { meter, source } = sourceWith(patch)
  const server = await createAdminServer(source, { port: 0 })
  onTestFinished(() => server.close())
  return { meter, server }
}

async function get(url: string) {
  const res = await request(url)
  return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() }
}

describe('the admin endpoint', () => {
  it('listens on 127.0.0.1 by default', async () => {
    const { server } = await admin()
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })

  it('serves /metrics in the Prometheus text format, from the mesh’s registry', async () => {
    const { meter, server } = await admin()
    await metrics({ meter, service: 'payments' })(async () => ({ status: 200, headers: {}, body: undefined }))(
      testCall({ route: 'default', startedAt: performance.now() }),
    )
    const res = await get(`${server.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.type).toContain('text/plain')
    expect(res.text).toMatch(
      /weft_requests_total\{direction="outbound",service="payments",route="default",method="GET",code="200",fate="ok"\} 1/,
    )
  })

  it.each([
    ['/config', { version: 'v1' }],
    ['/stack', { client: [{ role: 'trace', why: 'first' }] }],
    ['/endpoints', { payments: [{ address: '127.0.0.1:8081' }] }],
    ['/live', { live: true }],
    ['/ready', { ready: true }],
  ])('serves %s as JSON', async (path, partial) => {
    const { server } = await admin()
    const res = await get(`${server.url}${path}`)
    expect(res.status).toBe(200)
    expect(res.type).toContain('application/json')
    expect(JSON.parse(res.text)).toMatchObject(partial)
  })

  it('answers /ready with 503 while the mesh is not ready', async () => {
    const { server } = await admin({ ready: () => false })
    expect((await get(`${server.url}/ready`)).status).toBe(503)
  })

  it('answers a failing source with 500 and the message, and keeps serving', async () => {
    const { server } = await admin({
      endpoints: () => {
        throw new Error('balancer not built yet')
      },
    })
    const res = await get(`${server.url}/endpoints`)
    expect(res.status).toBe(500)
    expect(JSON.parse(res.text).error).toBe('balancer not built yet')
    expect((await get(`${server.url}/live`)).status).toBe(200)
  })

  it('is read-only and says what it has', async () => {
    const { server } = await admin()
    expect((await request(`${server.url}/config`, { method: 'POST', body: '{}' })).statusCode).toBe(405)
    const missing = await get(`${server.url}/nope`)
    expect(missing.status).toBe(404)
    expect(JSON.parse(missing.text).paths).toContain('/tap')
  })

  it('refuses a source without a registry', async () => {
    const { source } = sourceWith()
    await expect(createAdminServer({ ...source, registry: undefined as never }, { port: 0 })).rejects.toThrow(/lacks registry/)
  })

  it('refuses a tapCapacity the tap cannot hold when it starts, rather than throwing out of the first /tap request', async () => {
    const { source } = sourceWith()

    await expect(createAdminServer(source, { port: 0, tapCapacity: 20_000 })).rejects.toMatchObject({
      code: 'WEFT_INVALID_ARGUMENT',
      message: 'admin: tapCapacity must be an integer from 1 to 10000, got 20000',
    })
  })

  it('refuses a tapHeartbeat that is not a positive number of milliseconds when it starts', async () => {
    const { source } = sourceWith()

    for (const tapHeartbeat of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(createAdminServer(source, { port: 0, tapHeartbeat })).rejects.toMatchObject({
        code: 'WEFT_INVALID_ARGUMENT',
        message: `admin: tapHeartbeat must be a positive number of milliseconds, got ${tapHeartbeat}`,
      })
    }
  })
})
