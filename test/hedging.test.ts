/** Hedging end to end: a route hedges to the other endpoint when the first is slow. */
import { createMesh } from '@weft/client'
import { request } from 'undici'
import { expect, it, onTestFinished } from 'vitest'
import { listen } from './support/servers.js'

async function p99(hedge: unknown): Promise<{ p99: number; requests: number }> {
  const fast = await listen((_req, res) => res.end('fast'))
  const slow = await listen((_req, res) => {
    setTimeout(() => res.end('slow'), 300)
  })
  onTestFinished(async () => {
    await Promise.all([fast.close(), slow.close()])
  })
  const route = hedge === undefined ? {} : { hedge }
  const mesh = await createMesh({
    service: 'checkout',
    policy: {
      apiVersion: 'weft.dev/v1',
      services: {
        payments: {
          endpoints: [{ address: fast.address }, { address: slow.address }],
          loadBalancer: 'round-robin',
          outlierDetection: false,
          routes: [route],
        },
      },
    },
  })
  onTestFinished(() => mesh.close())
  const took: number[] = []
  for (let i = 0; i < 20; i++) {
    const started = performance.now()
    await (await request('http://payments/', { dispatcher: mesh.dispatcher })).body.text()
    took.push(performance.now() - started)
  }
  took.sort((a, b) => a - b)
  return { p99: took[took.length - 1] as number, requests: fast.requests.length + slow.requests.length }
}

it('hedging after 30 ms cuts p99 when one endpoint of two is slow, with at most one extra try per call', async () => {
  const plain = await p99(undefined)
  const hedged = await p99({ delay: '30ms', maxAttempts: 2 })

  expect(plain.p99).toBeGreaterThanOrEqual(290)
  expect(hedged.p99).toBeLessThan(200)
  expect(hedged.requests).toBeLessThanOrEqual(40)
}, 30_000)
