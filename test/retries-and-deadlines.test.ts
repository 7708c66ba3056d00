/**
 * End to end: retries and deadlines through real meshes, real weft servers and real undici on
 * loopback — a retry on another endpoint, idempotency rules at the server, a retry storm under the
 * budget, a deadline across four hops, and the server's 504 and garbage handling.
 */
import { createServer } from 'node:http'
import { Readable } from 'node:stream'
import { createMesh, type Mesh } from '@weft/client'
import { currentCall, weftErrorOf } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import { INBOUND_DEADLINE_DEFAULTS, inboundDeadlineStats } from '@weft/deadline'
import { POLICY_DEFAULTS } from '@weft/policy'
import { weftHandler } from '@weft/server'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, policyFor, serve, type Upstream } from './support/servers.js'

async function meshFor(
  services: Parameters<typeof policyFor>[0],
  extra?: Parameters<typeof policyFor>[1],
  clock?: ManualClock,
): Promise<Mesh> {
  const mesh = await createMesh({ service: 'checkout', policy: policyFor(services, extra), ...(clock ? { clock } : {}) })
  onTestFinished(() => mesh.close())
  return mesh
}

async function upstream(handler: Parameters<typeof listen>[0]): Promise<Upstream> {
  const up = await listen(handler)
  onTestFinished(() => up.close())
  return up
}

describe('retries through the mesh', () => {
  it('a GET that fails once with 503 is retried on another endpoint, which sees x-weft-attempt: 2', async () => {
    let first = true
    const answer: Parameters<typeof listen>[0] = (_req, res) => {
      res.statusCode = first ? 503 : 200
      first = false
      res.end()
    }
    const a = await upstream(answer)
    const b = await upstream(answer)
    const mesh = await meshFor({ payments: [a, b] })

    const res = await mesh.fetch('http://payments/balance')

    expect(res.status).toBe(200)
    const seen = [...a.requests.map((r) => ({ at: 'a', ...r })), ...b.requests.map((r) => ({ at: 'b', ...r }))]
    expect(seen).toHaveLength(2)
    expect(new Set(seen.map((r) => r.at)).size).toBe(2)
    expect(seen.map((r) => r.headers['x-weft-attempt']).sort()).toEqual(['1', '2'])
  })

  it('a POST without idempotency-key is sent exactly once; with the key it is retried', async () => {
    const payments = await upstream((_req, res) => {
      res.statusCode = 503
      res.end()
    })
    const mesh = await meshFor({ payments })

    const once = await mesh.fetch('http://payments/charge', { method: 'POST', body: '{"cents":100}' })
    expect(once.status).toBe(503)
    expect(payments.requests).toHaveLength(1)

    const keyed = await mesh.fetch('http://payments/charge', {
      method: 'POST',
      body: '{"cents":100}',
      headers: { 'idempotency-key': 'k-1' },
    })
    expect(keyed.status).toBe(503)
    expect(payments.requests).toHaveLength(1 + 3)
    expect(payments.requests.slice(1).map((r) => r.body)).toEqual(['{"cents":100}', '{"cents":100}', '{"cents":100}'])
  })

  it('a 1 MiB streamed POST is sent once, and the error says why', async () => {
    const payments = await listen((req, res) => {
      // read it all, then drop the connection: a reset, worth a retry if the body could be sent again
      res.socket?.destroy()
      void req
    })
    onTestFinished(() => payments.close())
    const mesh = await meshFor({ payments })
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 64; i++) yield Buffer.alloc(16 * 1024, 'p')
      })(),
    )

    const err = await mesh
      .fetch('http://payments/upload', {
        method: 'POST',
        body: Readable.toWeb(body) as ReadableStream,
        duplex: 'half',
        headers: { 'idempotency-key': 'upload-1' },
      } as RequestInit)
      .catch((e: unknown) => e)

    const weft = weftErrorOf(err)
    expect(weft?.code).toBe('WEFT_NOT_RETRYABLE')
    expect(weft?.details.reason).toBe('body-too-large')
    expect(weft?.message).toMatch(/larger than the replay buffer/)
    expect(payments.requests).toHaveLength(1)
    expect(payments.requests[0]?.body.length).toBe(1024 * 1024)
  })

  it('retry storm: an upstream that always answers 503 sees at most 1.2 × the requests plus the reserve', async () => {
    const payments = await upstream((_req, res) => {
      res.statusCode = 503
      res.end()
    })
    const clock = new ManualClock()
    // no backoff, so the storm runs at once on a clock that never moves: one budget window
    const mesh = await meshFor(
      { payments },
      { payments: { retries: { attempts: 5, backoff: { base: 0, max: 0 } }, circuitBreaker: false, outlierDetection: false } },
      clock,
    )

    for (let batch = 0; batch < 50; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const res = await request('http://payments/', { dispatcher: mesh.dispatcher })
          await res.body.dump()
        }),
      )
    }

    const reserve = 10 * 10
    expect(payments.requests.length).toBeLessThanOrEqual(1000 * 1.2 + reserve)
    expect(payments.requests.length).toBeGreaterThan(1000)
  })
})

describe('deadlines across hops', () => {
  it('a 1 s deadline ends a four-hop chain within 1.1 s; each hop saw less time; the last one’s signal fired', async () => {
    const closers: (() => Promise<unknown>)[] = []
    onTestFinished(async () => {
      for (const close of closers.reverse()) await close()
    })
    const seen: Record<string, number> = {}
    let dSignalFired = false

    // D: slow; waits for its deadline
    const dMesh = await createMesh({ service: 'd', policy: policyFor({}) })
    closers.push(() => dMesh.close())
    const d = await serve(
      createServer(
        weftHandler(dMesh, (req, res) => {
          seen.d = Number(req.headers['x-weft-timeout'])
          const signal = currentCall()?.signal
          // never answers: the hop before it gives up on its own deadline
          // D's own deadline, or C giving up on its deadline a moment earlier: either way the handler is told
          signal?.addEventListener('abort', () => {
            dSignalFired = weftErrorOf(signal.reason)?.code === 'WEFT_DEADLINE_EXCEEDED' || (signal.reason as Error)?.name === 'AbortError'
          })
          closers.push(async () => res.destroy())
        }),
      ),
    )
    closers.push(() => d.close())

    // C and B: each calls the next hop through its own mesh, with no deadline code at all
    async function hop(name: string, next: string, target: Upstream): Promise<Upstream> {
      const mesh = await createMesh({ service: name, policy: policyFor({ [next]: target }) })
      closers.push(() => mesh.close())
      const up = await serve(
        createServer(
          weftHandler(mesh, async (req, res) => {
            seen[name] = Number(req.headers['x-weft-timeout'])
            await new Promise((r) => setTimeout(r, 20)) // some work of its own
            try {
              const downstream = await mesh.fetch(`http://${next}/work`)
              res.statusCode = downstream.status
              res.end(await downstream.text())
            } catch (err) {
              res.statusCode = 504
              res.end(weftErrorOf(err)?.code ?? 'error')
            }
          }),
        ),
      )
      closers.push(() => up.close())
      return up
    }
    const c = await hop('c', 'd', d)
    const b = await hop('b', 'c', c)

    // A: the caller, with a 1 s budget
    const a = await createMesh({ service: 'a', policy: policyFor({ b }) })
    closers.push(() => a.close())
    const started = performance.now()
    const err = await a.fetch('http://b/work', { headers: { 'x-weft-timeout': '1000' } }).then(
      async (res) => {
        await res.text()
        return res
      },
      (e: unknown) => e,
    )
    const took = performance.now() - started

    // either A's own deadline fired, or the 504 of a hop whose deadline fired a moment earlier came back
    if (err instanceof Response) expect(err.status).toBe(504)
    else expect(weftErrorOf(err)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(took).toBeGreaterThan(900)
    expect(took).toBeLessThan(1100)
    expect(seen.b).toBeLessThanOrEqual(1000)
    expect(seen.c).toBeLessThan(seen.b as number)
    expect(seen.d).toBeLessThan(seen.c as number)
    await new Promise((r) => setTimeout(r, 100))
    expect(dSignalFired).toBe(true)
  })
})

describe('the server deadline', () => {
  async function weftServer(): Promise<{ up: Upstream; ran: () => number }> {
    const mesh = await createMesh({ service: 'orders', policy: policyFor({}) })
    onTestFinished(() => mesh.close())
    let ran = 0
    const up = await serve(
      createServer(
        weftHandler(mesh, (_req, res) => {
          ran++
          res.end('served')
        }),
      ),
    )
    onTestFinished(() => up.close())
    return { up, ran: () => ran }
  }

  it('answers x-weft-timeout: 0 with 504, and the handler never runs', async () => {
    const { up, ran } = await weftServer()

    const res = await request(`${up.url}/orders`, { headers: { 'x-weft-timeout': '0' } })
    const body = await res.body.text()

    expect(res.statusCode).toBe(504)
    expect(body).toContain('WEFT_DEADLINE_EXCEEDED')
    expect(ran()).toBe(0)
  })

  it('keeps serving whatever garbage arrives in the deadline headers, and counts it', async () => {
    const { up, ran } = await weftServer()
    const before = inboundDeadlineStats.invalid['x-weft-timeout']
    const garbage = ['abc', 'NaN', '1e3', '0x10', ' 100', '100ms', '-5', '', '1e309', '9'.repeat(10_240)]

    for (const value of garbage) {
      const res = await request(`${up.url}/orders`, { headers: { 'x-weft-timeout': value } })
      expect(await res.body.text()).toBe('served')
      expect(res.statusCode).toBe(200)
    }
    for (const value of ['1', '100x', '123456789S', '-1S']) {
      const res = await request(`${up.url}/orders`, { headers: { 'grpc-timeout': value } })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    }

    expect(ran()).toBe(garbage.length + 4)
    // Node trims the leading space of ' 100' and drops the empty value, so some arrive valid or absent
    expect(inboundDeadlineStats.invalid['x-weft-timeout'] - before).toBeGreaterThanOrEqual(garbage.length - 3)
  })
})

describe("the serving service's inboundTimeout", () => {
  /** A weft server for `orders` under `inboundTimeout`; its handler answers the time it was given, in ms. */
  async function boundedServer(inboundTimeout: Record<string, unknown> | undefined): Promise<{ up: Upstream; mesh: Mesh }> {
    const policy = { apiVersion: 'weft.dev/v1', services: { orders: inboundTimeout === undefined ? {} : { inboundTimeout } } }
    const mesh = await createMesh({ service: 'orders', policy })
    onTestFinished(() => mesh.close())
    const up = await serve(createServer(weftHandler(mesh, (_req, res) => res.end(String(currentCall()?.remainingMs())))))
    onTestFinished(() => up.close())
    return { up, mesh }
  }

  async function timeGiven(up: Upstream, headers: Record<string, string> = {}): Promise<number> {
    const res = await request(`${up.url}/orders`, { headers })
    expect(res.statusCode).toBe(200)
    return Number(await res.body.text())
  }

  it('min: a caller from outside the mesh cannot force shedding; x-weft-timeout: 0 is raised to the minimum and served', async () => {
    const { up } = await boundedServer({ min: '500ms' })

    const given = await timeGiven(up, { 'x-weft-timeout': '0' })

    expect(given).toBeGreaterThan(400)
    expect(given).toBeLessThanOrEqual(500)
  })

  it('max: a huge deadline is cut to the maximum', async () => {
    const { up } = await boundedServer({ max: '1s' })

    expect(await timeGiven(up, { 'x-weft-timeout': '9999999999' })).toBeLessThanOrEqual(1000)
  })

  it('default: a request with no deadline header, or only garbage, gets the default; without one it has none', async () => {
    const { up } = await boundedServer({ default: '2s' })
    const unbounded = await boundedServer(undefined)

    const none = await timeGiven(up)
    const garbage = await timeGiven(up, { 'x-weft-timeout': 'abc' })

    expect(none).toBeGreaterThan(1500)
    expect(none).toBeLessThanOrEqual(2000)
    expect(garbage).toBeLessThanOrEqual(2000)
    expect(await timeGiven(unbounded.up)).toBe(Number.POSITIVE_INFINITY)
  })

  it("left unset, its bounds are inboundDeadline's own defaults", () => {
    expect(POLICY_DEFAULTS.inboundTimeout).toEqual({
      max: INBOUND_DEADLINE_DEFAULTS.maxInboundTimeout,
      min: INBOUND_DEADLINE_DEFAULTS.minInboundTimeout,
      default: undefined,
    })
  })

  it('a policy update changes the bounds of a server already listening', async () => {
    const { up, mesh } = await boundedServer({ max: '10s' })
    expect(await timeGiven(up, { 'x-weft-timeout': '60000' })).toBeGreaterThan(5000)

    await mesh.update({ apiVersion: 'weft.dev/v1', services: { orders: { inboundTimeout: { max: '1s' } } } })

    expect(await timeGiven(up, { 'x-weft-timeout': '60000' })).toBeLessThanOrEqual(1000)
  })
})
