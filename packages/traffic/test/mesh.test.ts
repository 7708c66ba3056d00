/** The route layer inside a real mesh: createMesh, real undici, loopback upstreams labelled by version. */
import { createMesh } from '@weft/client'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
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
})
