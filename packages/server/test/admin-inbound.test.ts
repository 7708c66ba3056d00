import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createTimerQueue, currentCall, systemClock } from '@weft/core'
import { createMeshMetrics } from '@weft/metrics'
import { defaultServicePolicy, parsePolicy } from '@weft/policy'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAdminServer, createInbound, weftHandler } from '../src/index.js'

/** A weftHandler server whose inbound stack has the mesh's metrics, and its admin endpoint. */
async function served(listener: Parameters<typeof weftHandler>[1]) {
  const meter = createMeshMetrics()
  const policy = parsePolicy({ apiVersion: 'weft.dev/v1', services: {} })
  const inbound = createInbound({
    self: 'orders',
    service: defaultServicePolicy(policy, 'orders'),
    policy,
    clock: systemClock,
    timers: createTimerQueue(systemClock),
    metrics: meter,
  })
  const server = createServer(weftHandler({ service: 'orders', inbound }, listener))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const admin = await createAdminServer(
    { registry: meter.registry, tap: meter.tap, config: () => ({}), stack: () => inbound.roles, endpoints: () => ({}) },
    { port: 0 },
  )
  onTestFinished(async () => {
    await admin.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, admin, inbound }
}

describe('the server stack with metrics', () => {
  it('puts trace and metrics in the inbound stack, in that order around the handler', async () => {
    const { inbound } = await served((_req, res) => res.end())
    expect(inbound.roles.indexOf('trace')).toBe(0)
    expect(inbound.roles).toContain('metrics')
  })

  it('counts served requests by status and fate, and the handler sees the caller’s trace', async () => {
    let traceId: string | undefined
    const { url, admin } = await served((req, res) => {
      traceId = currentCall()?.traceId
      res.statusCode = req.url === '/boom' ? 500 : 200
      res.end()
    })
    await fetch(`${url}/ok`, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } })
    await fetch(`${url}/ok`)
    await fetch(`${url}/boom`)
    const text = await (await fetch(`${admin.url}/metrics`)).text()
    expect(traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(text).toContain('weft_requests_total{direction="inbound",service="orders",route="",method="GET",code="200",fate="ok"} 2')
    expect(text).toContain('weft_requests_total{direction="inbound",service="orders",route="",method="GET",code="500",fate="error"} 1')
    expect(text).toContain('weft_requests_in_flight{direction="inbound",service="orders"} 0')
  })

  it('serves the trace id the caller sent to the handler', async () => {
    let traceId: string | undefined
    const { url } = await served((_req, res) => {
      traceId = currentCall()?.traceId
      res.end()
    })
    await fetch(`${url}/`, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } })
    expect(traceId).toBe('0af7651916cd43dd8448eb211c80319c')
  })
})
