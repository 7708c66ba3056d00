/** The route layer inside a real mesh: createMesh, real undici, loopback upstreams labelled by version. */
import { createMesh } from '@weft/client'
import { weftErrorOf } from '@weft/core'
import { request } from 'undici'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { listen, type Upstream } from '../../../test/support/servers.js'

async function version(name: string): Promise<Upstream> {
  const up = await listen((_req, res) => res.end(name))
  onTestFinished(() => up.close())
  return up
}

/** A loopback port nothing listens on: a server opened and closed again. */
async function deadAddress(): Promise<string> {
  const up = await listen()
  await up.close()
  return up.address
}

function payments(endpoints: { address: string; labels: Record<string, string> }[], routes: unknown[]) {
  return {
    apiVersion: 'weft.dev/v1',
    services: {
      payments: {
        endpoints,
        subsets: { v1: { version: 'v1' }, v2: { version: 'v2' }, shadow: { version: 'shadow' } },
        routes,
      },
    },
  }
}

async function get(mesh: { dispatcher: import('undici').Dispatcher }, headers: Record<string, string> = {}) {
  const res = await request('http://payments/', { dispatcher: mesh.dispatcher, headers })
  return { status: res.statusCode, text: await res.body.text() }
}

describe('mirroring through the mesh', () => {
  it('a dead mirror (closed port) for every call never fails the real calls, even past the breaker minimum', async () => {
    const v1 = await version('v1')
    const mesh = await createMesh({
      service: 'checkout',
      policy: payments(
        [
          { address: v1.address, labels: { version: 'v1' } },
          { address: await deadAddress(), labels: { version: 'shadow' } },
        ],
        [{ split: [{ subset: 'v1', weight: 1 }], mirror: { subset: 'shadow', percent: 100 } }],
      ),
    })
    onTestFinished(() => mesh.close())

    const statuses: number[] = []
    for (let i = 0; i < 200; i++) statuses.push((await get(mesh)).status)
    await new Promise((r) => setTimeout(r, 200))
    for (let i = 0; i < 50; i++) statuses.push((await get(mesh)).status)

    expect(statuses.filter((s) => s !== 200)).toEqual([])
  })

  it('a mirror that holds every request never delays the real calls', async () => {
    const v1 = await version('v1')
    const held: import('node:http').ServerResponse[] = []
    const shadow = await listen((_req, res) => {
      held.push(res) // never answered while the real calls run
    })
    const mesh = await createMesh({
      service: 'checkout',
      policy: payments(
        [
          { address: v1.address, labels: { version: 'v1' } },
          { address: shadow.address, labels: { version: 'shadow' } },
        ],
        [{ split: [{ subset: 'v1', weight: 1 }], mirror: { subset: 'shadow', percent: 100 } }],
      ),
    })
    onTestFinished(() => mesh.close())
    // after hooks run last-registered first: the held mirrors are let go before the mesh drains
    onTestFinished(async () => {
      for (const res of held) res.end()
      await shadow.close()
    })

    for (let i = 0; i < 20; i++) expect(await get(mesh)).toEqual({ status: 200, text: 'v1' })

    expect(shadow.requests.length).toBeGreaterThan(0)
    expect(held.every((res) => !res.writableEnded)).toBe(true)
  })

  it("a held mirror is let go at the real call's deadline: its connection closes, the upstream sees it", async () => {
    const v1 = await version('v1')
    const closed: Promise<void>[] = []
    const shadow = await listen((_req, res) => {
      closed.push(new Promise((resolve) => res.on('close', () => resolve())))
    })
    onTestFinished(() => shadow.close())
    const mesh = await createMesh({
      service: 'checkout',
      policy: payments(
        [
          { address: v1.address, labels: { version: 'v1' } },
          { address: shadow.address, labels: { version: 'shadow' } },
        ],
        [{ timeout: '200ms', split: [{ subset: 'v1', weight: 1 }], mirror: { subset: 'shadow', percent: 100 } }],
      ),
    })
    onTestFinished(() => mesh.close())

    for (let i = 0; i < 5; i++) expect((await get(mesh)).status).toBe(200)
    await vi.waitFor(() => expect(closed).toHaveLength(5))

    await Promise.all(closed) // the test times out if a mirror outlives its deadline
  })

  it('the mirror sees about its percentage of real requests, with a -shadow host', async () => {
    const v1 = await version('v1')
    const shadow = await version('shadow')
    const mesh = await createMesh({
      service: 'checkout',
      policy: payments(
        [
          { address: v1.address, labels: { version: 'v1' } },
          { address: shadow.address, labels: { version: 'shadow' } },
        ],
        [{ split: [{ subset: 'v1', weight: 1 }], mirror: { subset: 'shadow', percent: 30 } }],
      ),
    })
    onTestFinished(() => mesh.close())

    for (let i = 0; i < 1000; i++) await get(mesh)
    await new Promise((r) => setTimeout(r, 100))

    expect(v1.requests.length).toBe(1000)
    expect(shadow.requests.length).toBeGreaterThan(250)
    expect(shadow.requests.length).toBeLessThan(350)
    expect(shadow.requests[0]?.headers.host).toBe('payments-shadow')
  })
})

describe('splits and faults through the mesh', () => {
  it('a sticky split by cookie keeps each user on one version, and users land on both', async () => {
    const [v1, v2] = [await version('v1'), await version('v2')]
    const mesh = await createMesh({
      service: 'checkout',
      policy: payments(
        [
          { address: v1.address, labels: { version: 'v1' } },
          { address: v2.address, labels: { version: 'v2' } },
        ],
        [
          {
            split: [
              { subset: 'v1', weight: 1 },
              { subset: 'v2', weight: 1 },
            ],
            sticky: { cookie: 'user' },
          },
        ],
      ),
    })
    onTestFinished(() => mesh.close())

    const seen = new Set<string>()
    for (let u = 0; u < 20; u++) {
      const versions = new Set<string>()
      for (let i = 0; i < 10; i++) versions.add((await get(mesh, { cookie: `theme=dark; user=user-${u}` })).text)
      expect(versions.size).toBe(1)
      for (const v of versions) seen.add(v)
    }
    expect([...seen].sort()).toEqual(['v1', 'v2'])
  })

  it('an injected abort answers before the network: the upstream sees nothing and retry does not repeat it', async () => {
    const v1 = await version('v1')
    const mesh = await createMesh({
      service: 'checkout',
      policy: payments(
        [{ address: v1.address, labels: { version: 'v1' } }],
        [{ fault: { abort: { status: 503, percent: 100 } }, retries: { attempts: 3 } }],
      ),
    })
    onTestFinished(() => mesh.close())

    for (let i = 0; i < 10; i++) expect((await get(mesh)).status).toBe(503)

    expect(v1.requests).toHaveLength(0)
  })

  it('an injected delay counts against the deadline: a 2 s delay on a 100 ms route ends in WEFT_DEADLINE_EXCEEDED', async () => {
    const v1 = await version('v1')
    const mesh = await createMesh({
      service: 'checkout',
      policy: payments(
        [{ address: v1.address, labels: { version: 'v1' } }],
        [{ timeout: '100ms', fault: { delay: { fixed: '2s', percent: 100 } } }],
      ),
    })
    onTestFinished(() => mesh.close())

    const started = performance.now()
    const err = await get(mesh).catch((e: unknown) => e)

    expect(weftErrorOf(err)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(performance.now() - started).toBeLessThan(1000)
    expect(v1.requests).toHaveLength(0)
  })
})
