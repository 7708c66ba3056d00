/** A real admin endpoint over real metrics, and a scripted run through the real client layers. */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Call, compose, type Reply } from '@weft/core'
import { createMeshMetrics, type MeshMetrics, metrics, observeAttempts } from '@weft/metrics'
import { retry } from '@weft/retry'
import { createAdminServer } from '@weft/server'
import { onTestFinished } from 'vitest'

export function call(patch: Partial<Call> = {}): Call {
  return {
    direction: 'outbound',
    service: 'payments',
    method: 'POST',
    path: '/charge',
    authority: 'payments',
    headers: Object.assign(Object.create(null), { 'idempotency-key': 'k' }),
    body: null,
    replayable: true,
    signal: undefined,
    deadline: undefined,
    attempt: 1,
    route: 'charge',
    subset: undefined,
    endpoint: undefined,
    tried: [],
    trace: undefined,
    peer: undefined,
    startedAt: performance.now(),
    ...patch,
  }
}

export async function adminFor(meter: MeshMetrics) {
  const admin = await createAdminServer(
    { registry: meter.registry, tap: meter.tap, config: () => ({}), stack: () => ({}), endpoints: () => ({}) },
    { port: 0 },
  )
  onTestFinished(() => admin.close())
  return admin
}

/**
 * Five calls to payments/charge: 3 ok, 1 ok after a retry, 1 refused a retry by the budget (a 503),
 * through metrics → retry → attempts over a scripted network.
 */
export async function scriptedRun(meter: MeshMetrics): Promise<void> {
  const statuses = [200, 200, 200, 503, 200, 503]
  const allow = [true, false]
  const network = async (): Promise<Reply> => ({ status: statuses.shift() as number, headers: {}, body: undefined })
  const handler = compose(
    metrics({ meter, service: 'payments' }),
    retry({ attempts: 2, random: () => 0, budget: { deposit() {}, tryWithdraw: () => allow.shift() ?? false, balance: () => 0 } }),
    observeAttempts({ meter, service: 'payments' }),
  )(network)
  for (let i = 0; i < 5; i++) await handler(call())
}

/** The URL of a loopback port nobody listens on: one the OS just handed out and took back. */
export async function deadAdminUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

export { createMeshMetrics }
