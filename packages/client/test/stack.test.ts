import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMesh, type Mesh } from '../src/index.js'

let upstream: Server
let address: string
let seen: IncomingHttpHeaders[]
let mesh: Mesh | undefined

beforeEach(async () => {
  seen = []
  upstream = createServer((req, res) => {
    seen.push(req.headers)
    res.end('ok')
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  address = `127.0.0.1:${(upstream.address() as AddressInfo).port}`
})

afterEach(async () => {
  await mesh?.close()
  mesh = undefined
  upstream.close()
})

const active = (m: Mesh) =>
  m
    .stack()
    .client.filter((l) => l.active)
    .map((l) => l.role)

describe('layers with nothing to do are left out', () => {
  it('a service with one try and no timeout runs without the retry layer, and still sends x-weft-attempt: 1', async () => {
    mesh = await createMesh({
      service: 'checkout',
      policy: { apiVersion: 'weft.dev/v1', services: { payments: { endpoints: [{ address }], retries: { attempts: 1 } } } },
    })

    const res = await request('http://payments/', { dispatcher: mesh.dispatcher })
    await res.body.text()

    expect(active(mesh)).not.toContain('retry')
    expect(res.statusCode).toBe(200)
    expect(seen[0]?.['x-weft-attempt']).toBe('1')
  })

  it('a route timeout keeps the retry layer for a single try: the route is still bounded', async () => {
    mesh = await createMesh({
      service: 'checkout',
      policy: {
        apiVersion: 'weft.dev/v1',
        services: {
          payments: {
            endpoints: [{ address }],
            retries: { attempts: 1 },
            routes: [{ name: 'slow', match: [{ path: { prefix: '/slow' } }], timeout: '1s' }],
          },
        },
      },
    })

    expect(active(mesh)).toContain('retry')
  })

  it('a layer counts as active when any service runs it', async () => {
    mesh = await createMesh({
      service: 'checkout',
      policy: {
        apiVersion: 'weft.dev/v1',
        services: {
          payments: { endpoints: [{ address }], retries: { attempts: 1 } },
          ledger: { endpoints: [{ address }], retries: { attempts: 3 } },
        },
      },
    })

    expect(active(mesh)).toContain('retry')
  })
})
