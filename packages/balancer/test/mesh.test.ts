/** The balancer, outlier detection, breaker and discovery as a user meets them: through createMesh, against real servers. */

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMesh, type Mesh } from '@weft/client'
import { weftErrorOf } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { type Dnsmasq, startDnsmasq } from '../../discovery/test/dnsmasq.js'

interface Server {
  readonly address: string
  readonly port: number
  readonly requests: number
  close(): Promise<void>
}

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function server(handle: number | ((req: IncomingMessage, res: ServerResponse) => void)): Promise<Server> {
  let requests = 0
  const s = createServer((req, res) => {
    requests++
    if (typeof handle === 'number') {
      res.statusCode = handle
      res.end(String(handle))
    } else handle(req, res)
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as AddressInfo
  const srv = {
    address: `127.0.0.1:${port}`,
    port,
    get requests() {
      return requests
    },
    close: () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections()
        s.close(() => resolve())
      }),
  }
  cleanup.push(srv.close)
  return srv
}

async function mesh(services: Record<string, unknown>, clock?: ManualClock): Promise<Mesh> {
  const m = await createMesh({ service: 'checkout', policy: { apiVersion: 'weft.dev/v1', services }, ...(clock ? { clock } : {}) })
  cleanup.push(() => m.close())
  return m
}

async function get(m: Mesh, url = 'http://payments/'): Promise<number | string> {
  try {
    const res = await m.fetch(url)
    await res.arrayBuffer()
    return res.status
  } catch (err) {
    return weftErrorOf(err)?.code ?? String(err)
  }
}

describe('through createMesh', () => {
  it('spreads calls over every endpoint in turn (round robin)', async () => {
    const servers = await Promise.all([server(200), server(200), server(200)])
    const m = await mesh({ payments: { endpoints: servers.map((s) => ({ address: s.address })), loadBalancer: 'round-robin' } })
    for (let i = 0; i < 30; i++) expect(await get(m)).toBe(200)
    expect(servers.map((s) => s.requests)).toEqual([10, 10, 10])
  })

  it('a retry goes to another endpoint than the one that failed', async () => {
    const failing = await server(503)
    const healthy = await server(200)
    const m = await mesh({
      payments: {
        endpoints: [{ address: failing.address }, { address: healthy.address }],
        loadBalancer: 'round-robin',
        outlierDetection: false,
        circuitBreaker: false, // half the tries fail here: a breaker would rightly open
        retries: { attempts: 2, backoff: { base: '1ms', max: '1ms' } },
      },
    })
    for (let i = 0; i < 20; i++) expect(await get(m)).toBe(200)
    expect(healthy.requests).toBe(20) // every call ended there, none went back to the failing one
    expect(failing.requests).toBeGreaterThan(0)
    expect(failing.requests).toBeLessThanOrEqual(20) // at most one try per call there
  })

  it('never ejects more than maxEjectionPercent: 4 endpoints, 3 failing, the healthy one keeps serving', async () => {
    const healthy = await server(200)
    const failing = await Promise.all([server(503), server(503), server(503)])
    const m = await mesh({
      payments: {
        endpoints: [healthy, ...failing].map((s) => ({ address: s.address })),
        loadBalancer: 'round-robin',
        outlierDetection: { consecutive5xx: 2, maxEjectionPercent: 50 },
        circuitBreaker: false,
        retries: { attempts: 1 },
      },
    })
    for (let i = 0; i < 40; i++) await get(m)
    const before = [healthy, ...failing].map((s) => s.requests)
    const answers: (number | string)[] = []
    for (let i = 0; i < 20; i++) answers.push(await get(m))
    const during = [healthy, ...failing].map((s, i) => s.requests - (before[i] as number))
    // two failing endpoints are out and stay out; the healthy one and the third failing one share the calls
    expect(during.filter((n) => n === 0)).toHaveLength(2)
    expect(during[0]).toBe(10)
    expect(answers.filter((a) => a === 200)).toHaveLength(10)
  })

  it('the breaker opens after the minimum volume, fails fast (the server sees nothing), probes after breakDuration and closes', async () => {
    const clock = new ManualClock()
    let status = 503
    const upstream = await server((_req, res) => {
      res.statusCode = status
      res.end()
    })
    const m = await mesh(
      {
        payments: {
          endpoints: [{ address: upstream.address }],
          outlierDetection: false,
          retries: { attempts: 1 },
          circuitBreaker: { minimumRequests: 5, failurePercent: 50, breakDuration: '30s' },
        },
      },
      clock,
    )
    for (let i = 0; i < 5; i++) expect(await get(m)).toBe(503)
    for (let i = 0; i < 5; i++) expect(await get(m)).toBe('WEFT_CIRCUIT_OPEN')
    expect(upstream.requests).toBe(5)

    await clock.advance('30s')
    status = 200
    expect(await get(m)).toBe(200)
    for (let i = 0; i < 5; i++) expect(await get(m)).toBe(200)
    expect(upstream.requests).toBe(11)
  })

  it('refuses a call beyond the concurrency limit with WEFT_OVERLOADED', async () => {
    const held: ServerResponse[] = []
    const upstream = await server((_req, res) => {
      held.push(res)
    })
    const m = await mesh({
      payments: { endpoints: [{ address: upstream.address }], concurrency: { maxInFlight: 1, maxPending: 0 }, retries: { attempts: 1 } },
    })
    const first = get(m)
    while (held.length === 0) await new Promise((r) => setImmediate(r))
    expect(await get(m)).toBe('WEFT_OVERLOADED')
    held[0]?.end()
    expect(await first).toBe(200)
  })

  it('finds endpoints by DNS (a real dnsmasq on loopback)', async () => {
    const upstream = await server(200)
    const dns: Dnsmasq = await startDnsmasq({ hosts: '127.0.0.1 payments.test\n', ttl: 5 })
    cleanup.push(() => dns.stop())
    const m = await mesh({ payments: { discovery: { dns: { name: 'payments.test', port: upstream.port, resolver: dns.address } } } })
    expect(await get(m)).toBe(200)
    expect(upstream.requests).toBe(1)
  })

  it('follows a watched endpoint file', async () => {
    const a = await server(200)
    const b = await server(200)
    const dir = await mkdtemp(join(tmpdir(), 'weft-mesh-file-'))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))
    const path = join(dir, 'payments.json')
    await writeFile(path, JSON.stringify([a.address]))
    const m = await mesh({ payments: { discovery: { file: { path } }, loadBalancer: 'round-robin' } })
    expect(await get(m)).toBe(200)
    expect(a.requests).toBe(1)
    await writeFile(path, JSON.stringify([b.address]))
    for (let i = 0; i < 500 && b.requests === 0; i++) {
      await get(m)
      await new Promise((r) => setTimeout(r, 10)) // the file watcher's event is I/O, not a timer we own
    }
    expect(b.requests).toBeGreaterThan(0)
  })
})
