/** Traffic management end to end: real upstreams per version, calls through createMesh. */
import { createMesh } from '@weft/client'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, type Upstream } from './support/servers.js'

async function version(name: string): Promise<Upstream> {
  const up = await listen((_req, res) => res.end(name))
  onTestFinished(() => up.close())
  return up
}

function policy(v1: Upstream, v2: Upstream, routes: unknown[], mirror?: Upstream) {
  const endpoints = [
    { address: v1.address, labels: { version: 'v1' } },
    { address: v2.address, labels: { version: 'v2' } },
  ]
  if (mirror !== undefined) endpoints.push({ address: mirror.address, labels: { version: 'shadow' } })
  return {
    apiVersion: 'weft.dev/v1',
    services: {
      payments: {
        endpoints,
        subsets: { v1: { version: 'v1' }, v2: { version: 'v2' }, shadow: { version: 'shadow' } },
        loadBalancer: 'round-robin',
        routes,
      },
    },
  }
}

async function get(mesh: { dispatcher: import('undici').Dispatcher }, headers: Record<string, string> = {}) {
  const res = await request('http://payments/', { dispatcher: mesh.dispatcher, headers })
  return res.body.text()
}

describe('traffic management through the mesh', () => {
  it('a 90/10 canary split reaches the real v2 servers about 10 % of the time', async () => {
    const [v1, v2] = [await version('v1'), await version('v2')]
    const mesh = await createMesh({
      service: 'checkout',
      policy: policy(v1, v2, [
        {
          split: [
            { subset: 'v1', weight: 90 },
            { subset: 'v2', weight: 10 },
          ],
        },
      ]),
    })
    onTestFinished(() => mesh.close())

    const answers = []
    for (let i = 0; i < 2000; i++) answers.push(await get(mesh))

    const v2Share = answers.filter((a) => a === 'v2').length / answers.length
    expect(v2Share).toBeGreaterThan(0.08)
    expect(v2Share).toBeLessThan(0.12)
  })

  it('a header route sends every call with x-version: v2 to v2, and the rest by the default split', async () => {
    const [v1, v2] = [await version('v1'), await version('v2')]
    const mesh = await createMesh({
      service: 'checkout',
      policy: policy(v1, v2, [
        { match: { headers: { 'x-version': 'v2' } }, split: [{ subset: 'v2', weight: 100 }] },
        { split: [{ subset: 'v1', weight: 100 }] },
      ]),
    })
    onTestFinished(() => mesh.close())

    for (let i = 0; i < 20; i++) expect(await get(mesh, { 'x-version': 'v2' })).toBe('v2')
    for (let i = 0; i < 20; i++) expect(await get(mesh)).toBe('v1')
  })

  it('mirrors to a shadow server, and a dead mirror never fails or slows the real call', async () => {
    const [v1, v2, shadow] = [await version('v1'), await version('v2'), await version('shadow')]
    const mesh = await createMesh({
      service: 'checkout',
      policy: policy(v1, v2, [{ split: [{ subset: 'v1', weight: 1 }], mirror: { subset: 'shadow', percent: 100 } }], shadow),
    })
    onTestFinished(() => mesh.close())

    for (let i = 0; i < 20; i++) expect(await get(mesh)).toBe('v1')
    await new Promise((r) => setTimeout(r, 100))
    expect(shadow.requests.length).toBe(20)
    expect(shadow.requests[0]?.headers.host).toBe('payments-shadow')

    await shadow.close()
    const started = performance.now()
    for (let i = 0; i < 20; i++) expect(await get(mesh)).toBe('v1')
    expect(performance.now() - started).toBeLessThan(2000)
  })
})
