import { Readable } from 'node:stream'
import { weftErrorOf } from '@weft/core'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, policyFor } from '../../../test/support/servers.js'
import { createMesh } from '../src/index.js'

async function meshFor(services: Parameters<typeof policyFor>[0]) {
  const mesh = await createMesh({ service: 'checkout', policy: policyFor(services) })
  onTestFinished(() => mesh.close())
  return mesh
}

describe('mesh.fetch', () => {
  it('reaches a service by name, and the upstream sees the Host the caller wrote', async () => {
    const payments = await listen((req, res) => res.end(`hello from ${req.url}`))
    onTestFinished(() => payments.close())
    const mesh = await meshFor({ payments })

    const res = await mesh.fetch('http://payments/charge?id=7')

    expect(res.status).toBe(200)
    expect(await res.text()).toBe('hello from /charge?id=7')
    expect(payments.requests[0]?.headers.host).toBe('payments')
  })

  it('ignores a port in the URL of a mesh service', async () => {
    const payments = await listen()
    onTestFinished(() => payments.close())
    const mesh = await meshFor({ payments })

    const res = await mesh.fetch('http://payments:8080/x')

    expect(res.status).toBe(200)
    expect(payments.requests[0]?.headers.host).toBe('payments:8080')
  })

  it('passes hosts that are not mesh services through unchanged', async () => {
    const outside = await listen((req, res) => res.end(req.headers.host))
    onTestFinished(() => outside.close())
    const mesh = await meshFor({})

    const res = await mesh.fetch(`${outside.url}/egress`)

    expect(await res.text()).toBe(outside.address)
  })

  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'])('sends a %s with its method, headers and body', async (method) => {
    const payments = await listen((req, res) => {
      res.setHeader('x-seen-method', req.method ?? '')
      res.end(req.body)
    })
    onTestFinished(() => payments.close())
    const mesh = await meshFor({ payments })
    const hasBody = !['GET', 'HEAD', 'OPTIONS'].includes(method)

    const res = await mesh.fetch('http://payments/r', { method, headers: { 'x-custom': 'yes' }, body: hasBody ? 'payload' : undefined })

    expect(res.headers.get('x-seen-method')).toBe(method)
    expect(payments.requests[0]?.headers['x-custom']).toBe('yes')
    if (hasBody) expect(await res.text()).toBe('payload')
  })

  it("keeps the upstream's status text and repeated headers, as fetch without the mesh would", async () => {
    const payments = await listen((_req, res) => {
      res.setHeader('Set-Cookie', ['a=1', 'b=2'])
      res.writeHead(201, 'Made It', { 'X-Order-Id': '7' })
      res.end()
    })
    onTestFinished(() => payments.close())
    const mesh = await meshFor({ payments })

    const res = await mesh.fetch('http://payments/orders', { method: 'POST' })

    expect(res.status).toBe(201)
    expect(res.statusText).toBe('Made It')
    expect(res.headers.get('x-order-id')).toBe('7')
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
  })

  it("hands `responseHeaders: 'raw'` the header names as the upstream cased them", async () => {
    const payments = await listen((_req, res) => {
      res.writeHead(200, { 'X-Order-Id': '7' })
      res.end()
    })
    onTestFinished(() => payments.close())
    const mesh = await meshFor({ payments })

    const res = await request('http://payments/', { dispatcher: mesh.dispatcher, responseHeaders: 'raw' })
    await res.body.dump()

    const raw = res.headers as unknown as string[]
    expect(raw[raw.indexOf('X-Order-Id') + 1]).toBe('7')
  })

  it('streams a request body up and a response body down without buffering either', async () => {
    const payments = await listen(async (req, res) => {
      res.setHeader('x-received', String(req.body.length))
      for (let i = 0; i < 64; i++) res.write(Buffer.alloc(16 * 1024, 'b'))
      res.end()
    })
    onTestFinished(() => payments.close())
    const mesh = await meshFor({ payments })
    const chunks = Readable.from(
      (function* () {
        for (let i = 0; i < 32; i++) yield Buffer.alloc(32 * 1024, 'a')
      })(),
    )

    const res = await mesh.fetch('http://payments/upload', {
      method: 'POST',
      body: Readable.toWeb(chunks) as ReadableStream,
      duplex: 'half',
    } as RequestInit)
    let received = 0
    let pieces = 0
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      received += piece.byteLength
      pieces++
    }

    expect(res.headers.get('x-received')).toBe(String(32 * 32 * 1024))
    expect(received).toBe(64 * 16 * 1024)
    expect(pieces).toBeGreaterThan(1)
  })

  it('aborts the call when init.signal fires', async () => {
    const payments = await listen(() => {
      /* never answers */
    })
    onTestFinished(() => payments.close())
    const mesh = await meshFor({ payments })
    const ac = new AbortController()

    const pending = mesh.fetch('http://payments/slow', { signal: ac.signal })
    setTimeout(() => ac.abort(), 20)

    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
  })

  it("surfaces a failure as fetch does: TypeError('fetch failed') with the WeftError as its cause", async () => {
    const gone = await listen()
    await gone.close()
    const mesh = await meshFor({ payments: gone })

    const err = await mesh.fetch('http://payments/x').catch((e: unknown) => e)

    expect(err).toBeInstanceOf(TypeError)
    expect((err as Error).message).toBe('fetch failed')
    expect(weftErrorOf(err)?.code).toBe('WEFT_UPSTREAM_FAILURE')
    expect(weftErrorOf(err)?.details.kind).toBe('connect-failure')
  })
})
