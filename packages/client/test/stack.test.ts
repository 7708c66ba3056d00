import { weftErrorOf } from '@weft/core'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, policyFor, type Upstream, type UpstreamHandler } from '../../../test/support/servers.js'
import { createMesh, type Mesh } from '../src/index.js'

/** An upstream for the test, closed after it. */
async function upstream(handler?: UpstreamHandler): Promise<Upstream> {
  const up = await listen(handler)
  onTestFinished(() => up.close())
  return up
}

/** A mesh over `services` (each with `extra[name]` merged into its policy), closed after the test. */
async function meshFor(services: Record<string, Upstream>, extra: Record<string, Record<string, unknown>>): Promise<Mesh> {
  const mesh = await createMesh({ service: 'checkout', policy: policyFor(services, extra) })
  onTestFinished(() => mesh.close())
  return mesh
}

const active = (m: Mesh) =>
  m
    .stack()
    .client.filter((l) => l.active)
    .map((l) => l.role)

describe('layers with nothing to do are left out', () => {
  it('a service with one try and no timeout runs without the retry layer, and still sends x-weft-attempt: 1', async () => {
    const payments = await upstream()
    const mesh = await meshFor({ payments }, { payments: { retries: { attempts: 1 } } })

    const res = await request('http://payments/', { dispatcher: mesh.dispatcher })
    await res.body.text()

    expect(active(mesh)).not.toContain('retry')
    expect(res.statusCode).toBe(200)
    expect(payments.requests[0]?.headers['x-weft-attempt']).toBe('1')
  })

  it('a route timeout keeps the retry layer for a single try: the route is still bounded', async () => {
    // /slow never answers; the route's 100 ms timeout, which only the retry layer enforces, ends the call
    const payments = await upstream((req, res) => (req.url?.startsWith('/slow') ? undefined : res.end('ok')))
    const mesh = await meshFor(
      { payments },
      { payments: { retries: { attempts: 1 }, routes: [{ name: 'slow', match: [{ path: { prefix: '/slow' } }], timeout: '100ms' }] } },
    )

    const err = await request('http://payments/slow', { dispatcher: mesh.dispatcher }).catch((e: unknown) => e)

    expect(active(mesh)).toContain('retry')
    expect(weftErrorOf(err)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(weftErrorOf(err)?.details.route).toBe('slow')
  })

  it('a layer counts as active when any service runs it', async () => {
    const payments = await upstream()
    const ledger = await upstream()
    const mesh = await meshFor({ payments, ledger }, { payments: { retries: { attempts: 1 } }, ledger: { retries: { attempts: 3 } } })

    expect(active(mesh)).toContain('retry')
  })
})
