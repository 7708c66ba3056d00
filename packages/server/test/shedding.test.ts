import { createServer } from 'node:http'
import { createMesh } from '@weft/client'
import { describe, expect, it, onTestFinished } from 'vitest'
import { serve } from '../../../test/support/servers.js'
import { weftHandler } from '../src/index.js'

describe('server load shedding', () => {
  it('answers 503 with retry-after, without running the handler, past the service’s concurrency limit', async () => {
    const mesh = await createMesh({
      service: 'inventory',
      policy: { apiVersion: 'weft.dev/v1', services: { inventory: { concurrency: { maxInFlight: 1, maxPending: 0 } } } },
    })
    let ran = 0
    let release: () => void = () => {}
    const held = new Promise<void>((r) => {
      release = r
    })
    const up = await serve(
      createServer(
        weftHandler(mesh, async (_req, res) => {
          ran++
          await held
          res.end('done')
        }),
      ),
    )
    onTestFinished(async () => {
      await up.close()
      await mesh.close()
    })

    const first = fetch(`${up.url}/work`)
    await new Promise((r) => setTimeout(r, 50))
    const second = await fetch(`${up.url}/work`)
    release()

    expect(second.status).toBe(503)
    expect(second.headers.get('retry-after')).toBe('1')
    expect((await second.json()).error.code).toBe('WEFT_OVERLOADED')
    expect(await (await first).text()).toBe('done')
    expect(ran).toBe(1)
  })
})
