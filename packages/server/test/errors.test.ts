/** What a service answers when its handler lets a failure through. */
import { createServer } from 'node:http'
import { createMesh, type Mesh } from '@weft/client'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, serve } from '../../../test/support/servers.js'
import { weftHandler } from '../src/index.js'

/** A mesh whose service `gone` has one endpoint where nothing listens (connections are refused at once). */
async function meshWithGoneUpstream(): Promise<Mesh> {
  const closed = await listen()
  const address = closed.address
  await closed.close()
  const mesh = await createMesh({
    service: 'front',
    policy: {
      apiVersion: 'weft.dev/v1',
      services: { gone: { endpoints: [{ address }], retries: { attempts: 1 }, circuitBreaker: false, outlierDetection: false } },
    },
  })
  onTestFinished(() => mesh.close())
  return mesh
}

async function serving(mesh: Mesh, handler: () => Promise<unknown>) {
  const up = await serve(
    createServer(
      weftHandler(mesh, async (_req, res) => {
        await handler()
        res.end('never')
      }),
    ),
  )
  onTestFinished(() => up.close())
  const res = await fetch(`${up.url}/work`)
  return { status: res.status, error: ((await res.json()) as { error: { code: string } }).error }
}

describe('a failure the handler lets through', () => {
  it('from mesh.fetch answers by the WeftError behind fetch’s TypeError, as from mesh.dispatcher', async () => {
    const mesh = await meshWithGoneUpstream()

    const viaFetch = await serving(mesh, () => mesh.fetch('http://gone/'))
    const viaDispatcher = await serving(mesh, () => request('http://gone/', { dispatcher: mesh.dispatcher }))

    expect(viaFetch).toEqual({ status: 502, error: expect.objectContaining({ code: 'WEFT_UPSTREAM_FAILURE' }) })
    expect(viaDispatcher).toEqual(viaFetch)
  })

  it('wrapped by the application as a cause answers by that WeftError too', async () => {
    const mesh = await meshWithGoneUpstream()

    const answer = await serving(mesh, async () => {
      await mesh.fetch('http://gone/').catch((cause: unknown) => {
        throw new Error('could not reach gone', { cause })
      })
    })

    expect(answer).toEqual({ status: 502, error: expect.objectContaining({ code: 'WEFT_UPSTREAM_FAILURE' }) })
  })

  it('of its own answers 500 without its message', async () => {
    const mesh = await meshWithGoneUpstream()

    const answer = await serving(mesh, async () => {
      throw new Error('secret detail')
    })

    expect(answer).toEqual({ status: 500, error: { code: 'INTERNAL', message: 'internal error' } })
  })
})
