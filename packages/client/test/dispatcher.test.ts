import { isWeftError } from '@weft/core'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, policyFor } from '../../../test/support/servers.js'
import { createMesh } from '../src/index.js'

describe('mesh.dispatcher', () => {
  it('serves undici.request, the fast door', async () => {
    const payments = await listen((_req, res) => res.end('charged'))
    onTestFinished(() => payments.close())
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }) })
    onTestFinished(() => mesh.close())

    const res = await request('http://payments/charge', { method: 'POST', body: '{}', dispatcher: mesh.dispatcher })

    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('charged')
    expect(payments.requests[0]?.body).toBe('{}')
  })

  it('serves fetch(url, { dispatcher })', async () => {
    const payments = await listen((_req, res) => res.end('ok'))
    onTestFinished(() => payments.close())
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }) })
    onTestFinished(() => mesh.close())

    const { fetch } = await import('undici')
    const res = await fetch('http://payments/', { dispatcher: mesh.dispatcher })

    expect(await res.text()).toBe('ok')
  })

  it('rejects undici.request with the WeftError itself', async () => {
    const gone = await listen()
    await gone.close()
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments: gone }) })
    onTestFinished(() => mesh.close())

    const err = await request('http://payments/', { dispatcher: mesh.dispatcher }).catch((e: unknown) => e)

    expect(isWeftError(err)).toBe(true)
    expect((err as { code: string }).code).toBe('WEFT_UPSTREAM_FAILURE')
  })

  it('calls alternating between two services and an outside host each reach their own upstream', async () => {
    const payments = await listen((_req, res) => res.end('payments'))
    const ledger = await listen((_req, res) => res.end('ledger'))
    const outside = await listen((_req, res) => res.end('outside'))
    onTestFinished(async () => {
      await Promise.all([payments.close(), ledger.close(), outside.close()])
    })
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments, ledger }) })
    onTestFinished(() => mesh.close())

    const urls = [
      'http://payments/',
      'http://ledger/',
      `http://${outside.address}/`,
      'http://payments/',
      'http://payments/',
      'http://ledger/',
    ]
    const bodies: string[] = []
    for (const url of urls) bodies.push(await (await request(url, { dispatcher: mesh.dispatcher })).body.text())

    expect(bodies).toEqual(['payments', 'ledger', 'outside', 'payments', 'payments', 'ledger'])
  })

  it('a chunked reply that arrives whole before the caller reads it is delivered in order', async () => {
    const payments = await listen((_req, res) => {
      res.write('one,')
      res.write('two,')
      res.end('three')
    })
    onTestFinished(() => payments.close())
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }) })
    onTestFinished(() => mesh.close())

    const bodies = await Promise.all(
      Array.from({ length: 8 }, () => request('http://payments/', { dispatcher: mesh.dispatcher }).then((r) => r.body.text())),
    )

    expect(new Set(bodies)).toEqual(new Set(['one,two,three']))
  })

  it('reuses one keep-alive connection pool per endpoint', async () => {
    const payments = await listen()
    onTestFinished(() => payments.close())
    const sockets = new Set<unknown>()
    payments.server.on('connection', (s) => sockets.add(s))
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }) })
    onTestFinished(() => mesh.close())

    for (let i = 0; i < 20; i++) await (await request('http://payments/', { dispatcher: mesh.dispatcher })).body.text()

    expect(payments.requests).toHaveLength(20)
    // undici itself may open a second socket early on; what matters is no connection per call
    expect(sockets.size).toBeLessThanOrEqual(2)
  })

  it('spreads calls over the endpoints in turn', async () => {
    const a = await listen((_q, r) => r.end('a'))
    const b = await listen((_q, r) => r.end('b'))
    onTestFinished(async () => {
      await Promise.all([a.close(), b.close()])
    })
    const mesh = await createMesh({
      service: 'checkout',
      policy: policyFor({ payments: [a, b] }, { payments: { loadBalancer: 'round-robin' } }),
    })
    onTestFinished(() => mesh.close())

    for (let i = 0; i < 10; i++) await (await request('http://payments/', { dispatcher: mesh.dispatcher })).body.text()

    expect(a.requests).toHaveLength(5)
    expect(b.requests).toHaveLength(5)
  })
})

describe('mesh.dispatcher: aborting a call reaches the upstream', () => {
  /** An upstream that sends the head and a first chunk, then holds the body open and notes when the request goes away. */
  async function trickle() {
    const closed: string[] = []
    const upstream = await listen((req, res) => {
      res.writeHead(200)
      res.write('first ')
      res.on('close', () => closed.push(req.url ?? ''))
    })
    onTestFinished(() => upstream.close())
    return { upstream, closed }
  }

  it("the caller's signal, mid-body, closes the upstream request", async () => {
    const { upstream, closed } = await trickle()
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments: upstream }) })
    onTestFinished(() => mesh.close())
    const caller = new AbortController()

    const res = await request('http://payments/caller', { dispatcher: mesh.dispatcher, signal: caller.signal })
    const reading = res.body.text().catch((e: unknown) => e)
    caller.abort(new Error('user left'))

    expect(((await reading) as Error).message).toBe('user left')
    await expect.poll(() => closed).toEqual(['/caller'])
  })

  it('the service timeout, passing mid-body, fails the body with WEFT_DEADLINE_EXCEEDED and closes the upstream request', async () => {
    const { upstream, closed } = await trickle()
    const mesh = await createMesh({
      service: 'checkout',
      policy: policyFor({ payments: upstream }, { payments: { timeout: '150ms', retries: { attempts: 1 } } }),
    })
    onTestFinished(() => mesh.close())

    const res = await request('http://payments/slow', { dispatcher: mesh.dispatcher })
    const err = await res.body.text().catch((e: unknown) => e)

    expect(isWeftError(err) ? err.code : err).toBe('WEFT_DEADLINE_EXCEEDED')
    await expect.poll(() => closed).toEqual(['/slow'])
  })
})
