/**
 * End to end: web → gateway (Express) → orders (Fastify) → stock (node:http), every hop calling
 * the next through weft, bodies streamed both ways, and a policy swap under load.
 */
import { createServer } from 'node:http'
import { Readable } from 'node:stream'
import { createMesh, type Mesh } from '@weft/client'
import { weftExpress, weftFastify, weftHandler } from '@weft/server'
import express from 'express'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { policyFor, serve, type Upstream } from './support/servers.js'

const policy = (services: Record<string, Upstream>) => policyFor(services)

describe('a three-hop chain through weft', () => {
  const closers: (() => Promise<unknown>)[] = []
  let web: Mesh
  let ordersMesh: Mesh
  let stockV1: Upstream
  let stockV2: Upstream
  let orders: Upstream
  let gateway: Upstream

  async function stock(version: string): Promise<Upstream> {
    const mesh = await createMesh({ service: 'stock', policy: policy({}) })
    closers.push(() => mesh.close())
    const up = await serve(
      createServer(
        weftHandler(mesh, async (req, res) => {
          res.setHeader('x-stock-version', version)
          // streams the body back upper-cased as it arrives
          for await (const chunk of req) res.write(String(chunk).toUpperCase())
          res.end()
        }),
      ),
    )
    closers.push(() => up.close())
    return up
  }

  beforeAll(async () => {
    stockV1 = await stock('v1')
    stockV2 = await stock('v2')

    // orders: Fastify, calling stock through the installed global fetch
    ordersMesh = await createMesh({ service: 'orders', policy: policy({ stock: stockV1 }) })
    closers.push(() => ordersMesh.close())
    const undo = ordersMesh.install()
    closers.push(async () => undo())
    let ordersServer: ReturnType<typeof createServer> | undefined
    const app = Fastify({
      serverFactory: (h) => {
        ordersServer = createServer(h)
        return ordersServer
      },
    })
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
    await app.register(weftFastify, { mesh: ordersMesh })
    app.post('/reserve', async (req, reply) => {
      const upstream = await fetch('http://stock/check', {
        method: 'POST',
        body: Readable.toWeb(req.body as Readable) as ReadableStream,
        duplex: 'half',
      } as RequestInit)
      reply.header('x-stock-version', upstream.headers.get('x-stock-version'))
      return reply.send(Readable.fromWeb(upstream.body as never))
    })
    await app.ready()
    orders = await serve(ordersServer as ReturnType<typeof createServer>)
    closers.push(() => app.close())
    closers.push(() => orders.close())

    // gateway: Express, calling orders through mesh.fetch
    const gatewayMesh = await createMesh({ service: 'gateway', policy: policy({ orders }) })
    closers.push(() => gatewayMesh.close())
    const gw = express()
    gw.use(weftExpress(gatewayMesh))
    gw.post('/buy', async (req, res) => {
      const upstream = await gatewayMesh.fetch('http://orders/reserve', {
        method: 'POST',
        body: Readable.toWeb(req) as ReadableStream,
        duplex: 'half',
      } as RequestInit)
      res.setHeader('x-stock-version', upstream.headers.get('x-stock-version') ?? '')
      Readable.fromWeb(upstream.body as never).pipe(res)
    })
    gateway = await serve(createServer(gw))
    closers.push(() => gateway.close())

    web = await createMesh({ service: 'web', policy: policy({ gateway }) })
    closers.push(() => web.close())
  })

  afterAll(async () => {
    for (const close of closers.reverse()) await close()
  })

  async function buy(text: string): Promise<{ status: number; body: string; version: string | null }> {
    const res = await web.fetch('http://gateway/buy', { method: 'POST', body: text })
    return { status: res.status, body: await res.text(), version: res.headers.get('x-stock-version') }
  }

  it('carries a request through every hop and the answer back', async () => {
    const res = await buy('two apples')
    expect(res).toEqual({ status: 200, body: 'TWO APPLES', version: 'v1' })
  })

  it('streams a large body up through three hops and back down', async () => {
    const parts = Readable.from(
      (function* () {
        for (let i = 0; i < 64; i++) yield Buffer.alloc(16 * 1024, 'x')
      })(),
    )
    const res = await web.fetch('http://gateway/buy', {
      method: 'POST',
      body: Readable.toWeb(parts) as ReadableStream,
      duplex: 'half',
    } as RequestInit)
    let total = 0
    let upper = true
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength
      upper &&= Buffer.from(chunk).every((b) => b === 0x58)
    }
    expect(total).toBe(64 * 16 * 1024)
    expect(upper).toBe(true)
  })

  it('serves concurrent requests', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => buy(`item ${i}`)))
    expect(results.map((r) => r.body)).toEqual(Array.from({ length: 50 }, (_, i) => `ITEM ${i}`))
  })

  it('swaps policy in the middle of the traffic with zero failed requests', async () => {
    let failures = 0
    const versions = new Set<string | null>()
    let stop = false
    const workers = Array.from({ length: 20 }, async (_, w) => {
      let n = 0
      while (!stop) {
        const r = await buy(`w${w} n${n++}`).catch(() => undefined)
        if (r?.status !== 200 || r.body !== `W${w} N${n - 1}`) failures++
        else versions.add(r.version)
      }
    })
    await new Promise((r) => setTimeout(r, 200))
    await ordersMesh.update(policy({ stock: stockV2 }))
    await new Promise((r) => setTimeout(r, 200))
    stop = true
    await Promise.all(workers)

    expect(failures).toBe(0)
    expect(versions).toEqual(new Set(['v1', 'v2']))
    expect((await buy('after')).version).toBe('v2')
  })
})
