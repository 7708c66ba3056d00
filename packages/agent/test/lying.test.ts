/** "Control plane that lies or fails" (BAD-INPUT.md): every lie leaves the last good policy in force, counted and logged. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { ManualClock } from '@weft/core/testing'
import { createTrustAnchor, issueCertificate, type TrustAnchor } from '@weft/mtls'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createAgent } from '../src/index.js'
import { answerPolicy, meshDocument, realDelay, recordingLogger, scriptedServer } from './helpers.js'

/** An agent on a control plane that answers well once (version v1), then tells `lie` every time after. */
async function agentAfterOneGoodAnswer(lie: (res: ServerResponse) => void, options: { maxBytes?: number } = {}) {
  const cp = await scriptedServer((_req, res, n) => (n === 1 ? answerPolicy(res, 'v1') : lie(res)))
  const logger = recordingLogger()
  const onPolicy = vi.fn()
  const agent = createAgent({ source: cp.url, service: 'checkout', logger, onPolicy, backoff: { base: '5ms', max: '20ms' }, ...options })
  onTestFinished(() => agent.close())
  await agent.start()
  // a few lies, each followed by a jittered backoff
  await vi.waitFor(() => expect(cp.requests.length).toBeGreaterThanOrEqual(4))
  return { cp, agent, logger, onPolicy }
}

function expectLastGoodKept(agent: ReturnType<typeof createAgent>, onPolicy: ReturnType<typeof vi.fn>) {
  expect(agent.status().version).toBe('v1')
  expect(agent.status().state).toBe('degraded')
  expect(onPolicy).not.toHaveBeenCalled()
}

/** The identity an agent trusting the weft.local bundle expects its control plane to prove. */
const CONTROL_PLANE = 'spiffe://weft.local/ns/weft-system/sa/control-plane'

/** An https control plane proving CONTROL_PLANE with a certificate from `anchor`, answering request n with `script`. */
async function tlsScriptedServer(anchor: TrustAnchor, script: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  const { cert, key } = await issueCertificate({ anchor, spiffeId: CONTROL_PLANE })
  const requests: IncomingMessage[] = []
  let connections = 0
  const server = https.createServer({ cert, key }, (req, res) => {
    requests.push(req)
    script(req, res, requests.length)
  })
  // handshakes the agent gave up on never become requests: count the connections
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { url: `https://127.0.0.1:${port}`, server, requests, connections: () => connections }
}

const json = (res: ServerResponse, body: string, headers: Record<string, string> = {}) =>
  res.writeHead(200, { 'content-type': 'application/json', etag: '"v2"', ...headers }).end(body)

describe('a control plane that lies', () => {
  it('garbage JSON is refused', async () => {
    const { agent, logger, onPolicy } = await agentAfterOneGoodAnswer((res) => json(res, '{"service": "checkout", "vers'))
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().rejected).toBeGreaterThanOrEqual(3)
    expect(agent.status().lastError).toMatchObject({ kind: 'protocol' })
    expect(logger.warnings.find((w) => w.includes('not JSON'))).toContain('keeping version v1')
  })

  it('a document that fails validation is refused with the path of the bad field', async () => {
    const invalid = { apiVersion: 'weft.dev/v1', services: { payments: { retires: { attempts: 3 } } } }
    const { agent, logger, onPolicy } = await agentAfterOneGoodAnswer((res) =>
      json(res, JSON.stringify({ service: 'checkout', version: 'v2', document: invalid })),
    )
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError).toMatchObject({ kind: 'invalid' })
    expect(agent.status().lastError?.message).toContain('services.payments')
    expect(logger.warnings.join('\n')).toContain('fails validation')
  })

  it('a body cut off short of its content-length is not applied, even when what came is a whole document', async () => {
    const { agent, onPolicy } = await agentAfterOneGoodAnswer((res) => {
      const body = JSON.stringify({ service: 'checkout', version: 'v2', document: meshDocument([9]) })
      res.writeHead(200, { 'content-type': 'application/json', etag: '"v2"', 'content-length': String(body.length + 100) })
      res.write(body, () => res.destroy())
    })
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError).toMatchObject({ kind: 'network' })
    expect(agent.status().lastError?.message).toContain('was cut off')
  })

  it('a 50 MB body with a content-length is refused before it is read', async () => {
    const { agent, onPolicy } = await agentAfterOneGoodAnswer((res) => {
      res.writeHead(200, { 'content-type': 'application/json', etag: '"v2"', 'content-length': String(50 * 1024 * 1024) })
      res.write('{"service":"checkout","version":"v2","document":"')
    })
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError).toMatchObject({ kind: 'too-large' })
    expect(agent.status().lastError?.message).toContain('52428800 bytes')
  })

  it('a 50 MB chunked body is cut off at the byte limit', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 'a')
    const { agent, onPolicy } = await agentAfterOneGoodAnswer((res) => {
      res.writeHead(200, { 'content-type': 'application/json', etag: '"v2"' })
      let sent = 0
      const more = () => {
        while (sent < 50 && !res.destroyed) {
          sent++
          if (!res.write(chunk)) return res.once('drain', more)
        }
        res.end()
      }
      res.on('error', () => {})
      more()
    })
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError).toMatchObject({ kind: 'too-large' })
    expect(agent.status().lastError?.message).toContain('limit of 2097152 bytes')
  })

  it('a 200 without an ETag is refused', async () => {
    const { agent, onPolicy } = await agentAfterOneGoodAnswer((res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ service: 'checkout', version: 'v2', document: meshDocument([9]) })),
    )
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError?.message).toContain('without a valid ETag')
  })

  it('a 200 whose ETag and body disagree on the version is refused', async () => {
    const { agent, onPolicy } = await agentAfterOneGoodAnswer((res) =>
      json(res, JSON.stringify({ service: 'checkout', version: 'v3', document: meshDocument([9]) })),
    )
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError?.message).toContain('under ETag')
  })

  it("a 200 carrying another service's policy is refused", async () => {
    const { agent, onPolicy } = await agentAfterOneGoodAnswer((res) =>
      json(res, JSON.stringify({ service: 'payments', version: 'v2', document: meshDocument([9]) })),
    )
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError?.message).toContain('policy of service "payments" to "checkout"')
  })

  it('a 200 with the wrong content type is refused', async () => {
    const { agent, onPolicy } = await agentAfterOneGoodAnswer((res) =>
      res
        .writeHead(200, { 'content-type': 'text/html', etag: '"v2"' })
        .end(JSON.stringify({ service: 'checkout', version: 'v2', document: meshDocument([9]) })),
    )
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError?.message).toContain('content type "text/html"')
  })

  it('5xx answers are retried with backoff; the last good stays', async () => {
    const { agent, onPolicy } = await agentAfterOneGoodAnswer((res) =>
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"overloaded"}}'),
    )
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError).toMatchObject({ kind: 'http' })
    expect(agent.status().lastError?.message).toContain('answered 503: overloaded')
    expect(agent.status().rejected).toBe(0)
  })

  it('a connection reset is retried; the last good stays', async () => {
    const { agent, onPolicy } = await agentAfterOneGoodAnswer((res) => res.socket?.destroy())
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError).toMatchObject({ kind: 'network', code: 'ECONNRESET' })
  })

  it('a DNS failure is retried with backoff on the next replica; the last good stays', async () => {
    const cp = await scriptedServer((_req, res, n) => (n === 1 ? answerPolicy(res, 'v1') : res.socket?.destroy()))
    const onPolicy = vi.fn()
    const agent = createAgent({
      source: [cp.url, 'http://control-plane.weft-test.invalid:7700'],
      service: 'checkout',
      logger: recordingLogger(),
      onPolicy,
      backoff: { base: '5ms', max: '20ms' },
    })
    onTestFinished(() => agent.close())
    await agent.start()

    await vi.waitFor(() => expect(agent.status().lastError?.code).toBe('ENOTFOUND'), { timeout: 5000 })
    expect(agent.status().version).toBe('v1')
    expect(onPolicy).not.toHaveBeenCalled()
  })

  it('a certificate from an untrusted CA after a good answer is retried with backoff; the last good stays', async () => {
    const clock = new ManualClock()
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    // same trust domain, another key: a CA the agent's bundle does not hold
    const impostor = await issueCertificate({ anchor: await createTrustAnchor({ trustDomain: 'weft.local' }), spiffeId: CONTROL_PLANE })
    const cp = await tlsScriptedServer(anchor, (_req, res) => {
      // new connections from now on get the impostor's certificate; closing this one forces the agent to make one
      cp.server.setSecureContext({ cert: impostor.cert, key: impostor.key })
      res.setHeader('connection', 'close')
      answerPolicy(res, 'v1')
    })
    const logger = recordingLogger()
    const onPolicy = vi.fn()
    // random 0.5: half of each ceiling — 50ms, then 100ms
    const agent = createAgent({
      source: cp.url,
      service: 'checkout',
      tls: { ca: anchor.cert },
      clock,
      random: () => 0.5,
      backoff: { base: '100ms', max: '400ms' },
      logger,
      onPolicy,
    })
    onTestFinished(() => agent.close())
    await agent.start()
    await vi.waitFor(() => expect(agent.status().failures).toBe(1))

    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError).toMatchObject({
      kind: 'network',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      source: new URL(cp.url).origin,
    })
    expect(agent.status().lastError?.message).toContain('unable to verify the first certificate')
    expect(logger.warnings.find((w) => w.includes('unable to verify'))).toContain('keeping version v1')
    let seen = 2
    for (const delay of [50, 100]) {
      await clock.advance(delay - 1)
      await realDelay(30)
      expect(cp.connections()).toBe(seen)
      await clock.advance(1)
      await vi.waitFor(() => expect(agent.status().failures).toBe(seen))
      expect(cp.connections()).toBe(++seen)
    }
    expect(cp.requests).toHaveLength(1)
    expect(agent.status().version).toBe('v1')
  })

  it('a redirect to another origin is not followed', async () => {
    const elsewhere = await scriptedServer((_req, res) => answerPolicy(res, 'v9', meshDocument([9])))
    const { agent, onPolicy } = await agentAfterOneGoodAnswer((res) =>
      res.writeHead(302, { location: `${elsewhere.url}/v1/policy?service=checkout` }).end(),
    )
    expectLastGoodKept(agent, onPolicy)
    expect(agent.status().lastError).toMatchObject({ kind: 'redirect' })
    expect(elsewhere.requests).toHaveLength(0)
  })

  it('a 304 to a request without If-None-Match is refused', async () => {
    const cp = await scriptedServer((_req, res, n) => (n === 1 ? res.writeHead(304).end() : answerPolicy(res, 'v1')))
    const logger = recordingLogger()
    const agent = createAgent({ source: cp.url, service: 'checkout', logger, backoff: { base: '5ms', max: '5ms' } })
    onTestFinished(() => agent.close())

    const policy = await agent.start()

    expect(policy.version).toBe('v1')
    expect(cp.requests[0]?.headers['if-none-match']).toBeUndefined()
    expect(agent.status().rejected).toBe(1)
    expect(logger.warnings[0]).toContain('304 Not Modified to a request without If-None-Match')
  })
})

describe('a control plane that never finishes', () => {
  it('a body that drips one byte a second is cut off a little after wait (30s + 5s)', async () => {
    const clock = new ManualClock()
    const cp = await scriptedServer((_req, res, n) => {
      if (n === 1) return answerPolicy(res, 'v1')
      res.writeHead(200, { 'content-type': 'application/json', etag: '"v2"' })
      const drip = setInterval(() => res.write(' '), 1000)
      res.on('close', () => clearInterval(drip))
    })
    const agent = createAgent({ source: cp.url, service: 'checkout', clock, logger: recordingLogger() })
    onTestFinished(() => agent.close())
    await agent.start()
    await vi.waitFor(() => expect(cp.requests).toHaveLength(2))

    await clock.advance('34s')
    expect(agent.status().failures).toBe(0)
    await clock.advance('1s')

    await vi.waitFor(() => expect(agent.status().lastError).toMatchObject({ kind: 'timeout' }))
    expect(agent.status().lastError?.message).toContain('within 35000ms')
    expect(agent.status().version).toBe('v1')
  })

  it('an answer that never starts (no status line) is given up on 5s after wait', async () => {
    const clock = new ManualClock()
    // the second request is read and then held: not a byte of an answer
    const cp = await scriptedServer((_req, res, n) => (n === 1 ? answerPolicy(res, 'v1') : undefined))
    const onPolicy = vi.fn()
    const agent = createAgent({ source: cp.url, service: 'checkout', wait: '10s', clock, logger: recordingLogger(), onPolicy })
    onTestFinished(() => agent.close())
    await agent.start()
    await vi.waitFor(() => expect(cp.requests).toHaveLength(2))
    expect(new URL(cp.requests[1]?.url ?? '', cp.url).searchParams.get('wait')).toBe('10000ms')

    await clock.advance('14999ms')
    expect(agent.status().failures).toBe(0)
    await clock.advance('1ms')

    await vi.waitFor(() => expect(agent.status().lastError).toMatchObject({ kind: 'timeout' }))
    expect(agent.status().lastError?.message).toContain('within 15000ms')
    expectLastGoodKept(agent, onPolicy)
  })
})

describe('backoff', () => {
  it('waits a jittered, doubling delay between failed polls', async () => {
    const clock = new ManualClock()
    const cp = await scriptedServer((_req, res) => res.writeHead(503).end())
    // random 0.5: half of each ceiling — 50ms, 100ms, 200ms, then 200ms (the max)
    const agent = createAgent({
      source: cp.url,
      service: 'checkout',
      clock,
      random: () => 0.5,
      backoff: { base: '100ms', max: '400ms' },
      logger: recordingLogger(),
    })
    onTestFinished(() => agent.close())
    void agent.start().catch(() => {})

    let seen = 1
    for (const delay of [50, 100, 200, 200]) {
      await vi.waitFor(() => expect(agent.status().failures).toBe(seen))
      await clock.advance(delay - 1)
      await realDelay(30)
      expect(cp.requests).toHaveLength(seen)
      await clock.advance(1)
      await vi.waitFor(() => expect(cp.requests).toHaveLength(seen + 1))
      seen++
    }
  })

  it('start() rejects with WEFT_POLICY_UNAVAILABLE after startTimeout when nothing answers', async () => {
    const clock = new ManualClock()
    const dead = await scriptedServer(() => {})
    await dead.close()
    const agent = createAgent({ source: dead.url, service: 'checkout', clock, logger: recordingLogger() })
    const outcome = agent.start().catch((err: unknown) => err)
    await vi.waitFor(() => expect(agent.status().failures).toBe(1))

    await clock.advance('9.9s')
    expect(agent.status().state).toBe('starting')
    await clock.advance('100ms')

    const err = (await outcome) as { code: string; message: string }
    expect(err.code).toBe('WEFT_POLICY_UNAVAILABLE')
    expect(err.message).toContain('no policy within 10000ms')
    expect(err.message).toContain('ECONNREFUSED')
    expect(agent.status().state).toBe('closed')
  })
})
