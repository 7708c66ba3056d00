import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { Registry } from 'prom-client'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, policyFor, serve } from '../../../test/support/servers.js'
import { createMesh } from '../src/index.js'
import { MeshTls } from '../src/mtls.js'

async function meshWithTraffic(registry?: Registry) {
  const payments = await listen((req, res) => {
    res.statusCode = req.url === '/fail' ? 500 : 200
    res.end()
  })
  onTestFinished(() => payments.close())
  const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }), registry })
  onTestFinished(() => mesh.close())
  for (const path of ['/a', '/b', '/fail']) await (await request(`http://payments${path}`, { dispatcher: mesh.dispatcher })).body.dump()
  return { mesh, payments }
}

describe('metrics and the admin endpoint through createMesh', () => {
  it('counts outbound calls by fate into the registry the user passed', async () => {
    const registry = new Registry()
    await meshWithTraffic(registry)

    const text = await registry.metrics()

    expect(text).toMatch(/weft_requests_total\{[^}]*direction="outbound"[^}]*service="payments"[^}]*code="200"[^}]*fate="ok"[^}]*\} 2/)
    expect(text).toMatch(/weft_requests_total\{[^}]*code="500"[^}]*fate="error"[^}]*\} 1/)
  })

  it('serves /metrics, /config, /stack, /endpoints and /ready on a port of its own', async () => {
    const { mesh, payments } = await meshWithTraffic()
    const admin = await mesh.admin({ port: 0 })

    const get = async (path: string) => {
      const res = await fetch(`${admin.url}${path}`)
      return { status: res.status, text: await res.text() }
    }
    const metrics = await get('/metrics')
    const config = JSON.parse((await get('/config')).text)
    const stack = JSON.parse((await get('/stack')).text)
    const endpoints = JSON.parse((await get('/endpoints')).text)

    expect(metrics.text).toContain('weft_requests_total')
    expect(config.version).toBe(mesh.policy.version)
    expect(stack.client.map((l: { role: string }) => l.role)).toEqual(expect.arrayContaining(['trace', 'retry', 'balancer', 'transport']))
    expect(endpoints.payments.endpoints[0].address).toBe(payments.address)
    expect((await get('/ready')).status).toBe(200)
  })

  it('/config names the file the policy came from, and stops naming it once an update comes from elsewhere', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-config-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    await writeFile(join(dir, 'mesh.yaml'), 'apiVersion: weft.dev/v1\nservices: {}\n')
    const mesh = await createMesh({ service: 'checkout', policy: relative(process.cwd(), join(dir, 'mesh.yaml')) })
    onTestFinished(() => mesh.close())
    const admin = await mesh.admin({ port: 0 })
    const config = async () => (await fetch(`${admin.url}/config`)).json()

    expect(await config()).toMatchObject({ source: 'local', file: join(dir, 'mesh.yaml') })
    await mesh.update({ apiVersion: 'weft.dev/v1', services: { payments: {} } })
    expect(await config()).not.toHaveProperty('file')
  })

  it('mesh.endpoints() shows each endpoint with its health', async () => {
    const { mesh, payments } = await meshWithTraffic()

    const view = mesh.endpoints().payments

    expect(view?.endpoints).toEqual([expect.objectContaining({ address: payments.address, health: 'healthy', inFlight: 0 })])
  })

  it('exports endpoint and circuit state at scrape time', async () => {
    const { mesh, payments } = await meshWithTraffic()

    const text = await mesh.registry.metrics()

    expect(text).toContain(`weft_endpoint_state{service="payments",endpoint="${payments.address}",state="healthy"} 1`)
    expect(text).toMatch(/weft_circuit_state\{service="payments",state="closed"\} 1/)
  })
})

/** The value of one sample of a scrape (0 when absent): `name{labels}` exactly as prom-client writes it. */
async function sample(registry: Registry, series: string): Promise<number> {
  const text = await registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

/** Writes a plaintext request on a fresh socket to `port` and waits until the server closes it. */
function sendUntilClosed(port: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'))
    socket.on('close', () => resolve())
    socket.on('error', () => {})
  })
}

/** A server from `mesh.createServer`, listening on loopback; answers its port. */
async function listening(server: Server): Promise<number> {
  const up = await serve(server)
  onTestFinished(() => up.close())
  return up.port
}

/** A mesh serving `ok` from mesh.createServer, and a sample of `series` in its registry before any request. */
async function servingMesh(series: string) {
  const mesh = await createMesh({ service: 'checkout', policy: policyFor({}) })
  onTestFinished(() => mesh.close())
  const port = await listening(mesh.createServer((_req, res) => res.end('ok')))
  return { mesh, port, before: await sample(mesh.registry, series) }
}

describe('inbound deadlines and connections in the registry', () => {
  it('an invalid x-weft-timeout a caller sent is counted in weft_deadline_headers_invalid_total', async () => {
    const series = 'weft_deadline_headers_invalid_total{header="x-weft-timeout"}'
    const { mesh, port, before } = await servingMesh(series)

    const res = await request(`http://127.0.0.1:${port}/`, { headers: { 'x-weft-timeout': '1e3' } })

    expect(await res.body.text()).toBe('ok')
    expect((await sample(mesh.registry, series)) - before).toBe(1)
  })

  it('a request that arrives with no time left is counted as shed in weft_inbound_deadlines_total', async () => {
    const series = 'weft_inbound_deadlines_total{outcome="shed"}'
    const { mesh, port, before } = await servingMesh(series)

    const res = await request(`http://127.0.0.1:${port}/`, { headers: { 'x-weft-timeout': '0' } })
    await res.body.dump()

    expect(res.statusCode).toBe(504)
    expect((await sample(mesh.registry, series)) - before).toBe(1)
  })

  it('two meshes sharing a registry count the process-wide deadline counts once', async () => {
    const registry = new Registry()
    const a = await createMesh({ service: 'a', policy: policyFor({}), registry })
    const b = await createMesh({ service: 'b', policy: policyFor({}), registry })
    onTestFinished(() => Promise.all([a.close(), b.close()]).then(() => undefined))
    const port = await listening(a.createServer((_req, res) => res.end('ok')))
    const series = 'weft_deadline_headers_invalid_total{header="x-weft-timeout"}'
    const before = await sample(registry, series)

    await (await request(`http://127.0.0.1:${port}/`, { headers: { 'x-weft-timeout': 'abc' } })).body.dump()

    expect((await sample(registry, series)) - before).toBe(1)
  })

  it('connections a mesh server accepts and refuses are counted by security and by reason', async () => {
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({}) })
    onTestFinished(() => mesh.close())
    const open = await listening(mesh.createServer((_req, res) => res.end('ok')))
    // STRICT without an identity to serve it with: every connection is refused as plaintext
    const strict = await listening(mesh.createServer((_req, res) => res.end('never'), { mode: 'STRICT' }))

    await (await request(`http://127.0.0.1:${open}/`)).body.dump()
    await sendUntilClosed(strict)

    expect(await sample(mesh.registry, 'weft_inbound_connections_total{security="plaintext"}')).toBe(1)
    expect(await sample(mesh.registry, 'weft_inbound_connections_total{security="mtls"}')).toBe(0)
    expect(await sample(mesh.registry, 'weft_inbound_connections_refused_total{reason="plaintext"}')).toBe(1)
  })
})

describe('connection counts of servers that close', () => {
  it('closing a mesh server keeps its connections in the totals', async () => {
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({}) })
    onTestFinished(() => mesh.close())
    const open = await serve(mesh.createServer((_req, res) => res.end('ok')))
    const strict = await serve(mesh.createServer((_req, res) => res.end('never'), { mode: 'STRICT' }))
    await (await request(`${open.url}/`)).body.dump()
    await sendUntilClosed(strict.port)

    await Promise.all([open.close(), strict.close()])

    expect(await sample(mesh.registry, 'weft_inbound_connections_total{security="plaintext"}')).toBe(1)
    expect(await sample(mesh.registry, 'weft_inbound_connections_refused_total{reason="plaintext"}')).toBe(1)
  })

  it('a mesh server that closes and listens again counts its earlier connections once', async () => {
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({}) })
    onTestFinished(() => mesh.close())
    const server = mesh.createServer((_req, res) => res.end('ok'))
    const first = await serve(server)
    await (await request(`${first.url}/`)).body.dump()
    await first.close()

    const again = await serve(server)
    onTestFinished(() => again.close())
    await (await request(`${again.url}/`)).body.dump()

    expect(await sample(mesh.registry, 'weft_inbound_connections_total{security="plaintext"}')).toBe(2)
  })

  it('a mesh that made and closed 1000 servers holds no per-server counts', async () => {
    const tls = await MeshTls.create(undefined)

    for (let i = 0; i < 1000; i++) {
      const up = await serve(
        tls.createServer(
          (_req, res) => res.end('ok'),
          () => 'PERMISSIVE',
        ),
      )
      const accepted = once(up.server, 'connection')
      const socket = connect(up.port, '127.0.0.1').on('error', () => {})
      await accepted
      socket.destroy()
      await up.close()
    }

    // all that is left of them is one running total, which still has every connection
    expect([...tls.servers()]).toEqual([
      { mtls: 0, tls: 0, plaintext: 1000, refused: { plaintext: 0, handshake: 0, certificate: 0, timeout: 0 } },
    ])
  })
})

describe('egress', () => {
  it('a host outside the mesh is reached unchanged, yet traced and measured as service "egress"', async () => {
    const outside = await listen((req, res) => res.end(req.headers.host))
    onTestFinished(() => outside.close())
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({}) })
    onTestFinished(() => mesh.close())

    const res = await request(`${outside.url}/x`, { dispatcher: mesh.dispatcher })

    expect(await res.body.text()).toBe(outside.address)
    expect(outside.requests[0]?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/)
    // no retries outside the mesh: nothing stamps the attempt
    expect(outside.requests[0]?.headers['x-weft-attempt']).toBeUndefined()
    expect(await mesh.registry.metrics()).toMatch(/weft_requests_total\{[^}]*service="egress"[^}]*code="200"[^}]*\} 1/)
  })
})
