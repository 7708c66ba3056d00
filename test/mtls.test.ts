/**
 * mTLS through the whole mesh: createMesh({ identity }), the transport's connector per service mode,
 * mesh.createServer in each mode, currentCall().peer, and authorization through all three adapters.
 * Real certificates (ECDSA P-256) minted here, real TLS on 127.0.0.1.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMesh, type Mesh } from '@weft/client'
import { currentCall, isWeftError, type WeftError } from '@weft/core'
import { createTrustAnchor, type IssuedCertificate, issueCertificate, meshServerStats, type TrustAnchor, writeIdentity } from '@weft/mtls'
import { weftExpress, weftFastify, weftHandler } from '@weft/server'
import express from 'express'
import Fastify from 'fastify'
import { request } from 'undici'
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { serve, type Upstream } from './support/servers.js'

let anchor: TrustAnchor
const spiffe = (service: string, ns = 'default') => `spiffe://weft.local/ns/${ns}/sa/${service}`
const issue = (service: string, ns = 'default') => issueCertificate({ anchor, spiffeId: spiffe(service, ns) })
const pems = ({ cert, key, bundle }: IssuedCertificate) => ({ cert, key, bundle })

beforeAll(async () => {
  anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
})

type ServiceDoc = Record<string, unknown>
const doc = (services: Record<string, ServiceDoc>) => ({ apiVersion: 'weft.dev/v1', services })

async function mesh(service: string, services: Record<string, ServiceDoc>, identity?: IssuedCertificate | 'none'): Promise<Mesh> {
  const m = await createMesh({
    service,
    policy: doc(services),
    identity: identity === 'none' ? undefined : pems(identity ?? (await issue(service))),
  })
  onTestFinished(() => m.close())
  return m
}

/** Answers who the caller is, as the handler sees it through currentCall(). */
function whoAmI(_req: IncomingMessage, res: ServerResponse) {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ peer: currentCall()?.peer?.identity ?? null }))
}

async function listening(server: ReturnType<Mesh['createServer']>): Promise<Upstream> {
  const up = await serve(server)
  onTestFinished(() => up.close())
  return up
}

async function call(caller: Mesh, url: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const res = await request(url, { dispatcher: caller.dispatcher, method })
  return { status: res.statusCode, body: await res.body.text() }
}

async function failure(promise: Promise<unknown>): Promise<WeftError> {
  try {
    await promise
  } catch (err) {
    if (isWeftError(err)) return err
    throw err
  }
  throw new Error('the call succeeded')
}

describe('createMesh({ identity }) and mesh.createServer', () => {
  it('a STRICT service is called over mTLS and its handler sees the caller’s verified identity', async () => {
    const payments = await mesh('payments', { payments: { mtls: 'STRICT' } })
    const server = await listening(payments.createServer(whoAmI))
    const checkout = await mesh('checkout', { payments: { mtls: 'STRICT', endpoints: [{ address: server.address }] } })

    expect(checkout.identity).toBe(spiffe('checkout'))
    expect(await call(checkout, 'http://payments/who')).toEqual({ status: 200, body: JSON.stringify({ peer: spiffe('checkout') }) })
    expect(meshServerStats(server.server)?.mtls).toBe(1)
  })

  it('reads the identity from a directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-identity-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    await writeIdentity(dir, await issue('checkout'))
    const m = await createMesh({ service: 'checkout', policy: doc({}), identity: { dir } })
    onTestFinished(() => m.close())
    expect(m.identity).toBe(spiffe('checkout'))
  })

  it('refuses an identity whose key does not match, naming the file', async () => {
    const a = await issue('checkout')
    const b = await issue('checkout')
    await expect(createMesh({ service: 'checkout', policy: doc({}), identity: { ...pems(a), key: b.key } })).rejects.toThrow(
      /does not match/,
    )
  })

  it('a server proving another identity than policy expects fails with WEFT_PEER_IDENTITY_MISMATCH naming both', async () => {
    const impostor = await mesh('payments', {}, await issue('impostor'))
    const server = await listening(impostor.createServer(whoAmI))
    const checkout = await mesh('checkout', { payments: { mtls: 'STRICT', endpoints: [{ address: server.address }] } })

    const err = await failure(call(checkout, 'http://payments/charge', 'POST'))
    expect(err.code).toBe('WEFT_PEER_IDENTITY_MISMATCH')
    expect(err.message).toContain(spiffe('impostor'))
    expect(err.message).toContain(spiffe('payments'))
  })

  it('the expected identity comes from services.<name>.identity, exact or a pattern', async () => {
    const ledger = await mesh('ledger', {}, await issue('ledger', 'billing'))
    const server = await listening(ledger.createServer(whoAmI))
    const checkout = await mesh('checkout', {
      ledger: { mtls: 'STRICT', identity: 'spiffe://weft.local/ns/billing/*', endpoints: [{ address: server.address }] },
    })
    expect((await call(checkout, 'http://ledger/x')).status).toBe(200)
  })

  it('a STRICT destination whose handshake fails never falls back to plaintext', async () => {
    const plain = await listening(createHttpServer((_req, res) => res.end('plaintext')))
    const checkout = await mesh('checkout', { legacy: { mtls: 'STRICT', endpoints: [{ address: plain.address }] } })
    await expect(call(checkout, 'http://legacy/x')).rejects.toThrow()
    expect(plain.requests).toHaveLength(0)

    const anonymous = await mesh('anonymous', { legacy: { mtls: 'STRICT', endpoints: [{ address: plain.address }] } }, 'none')
    const err = await failure(call(anonymous, 'http://legacy/x'))
    expect(err.code).toBe('WEFT_CERTIFICATE_INVALID')
    expect(err.message).toMatch(/legacy accepts only mTLS \(mtls: STRICT\) but this mesh has no identity/)
    expect(plain.requests).toHaveLength(0)
  })

  it('an expired server certificate fails the call with a clear error, and is not retried', async () => {
    const expired = await issueCertificate({
      anchor,
      spiffeId: spiffe('payments'),
      notBefore: new Date(Date.now() - 7_200_000),
      lifetime: '1h',
    })
    let connections = 0
    const server = createHttpsServer({ ...pems(expired), ca: expired.bundle, requestCert: true }, (_req, res) => res.end('ok'))
    server.on('connection', () => connections++)
    const up = await listening(server)
    const checkout = await mesh('checkout', {
      payments: { mtls: 'STRICT', retries: { attempts: 3 }, endpoints: [{ address: up.address }] },
    })

    const err = await failure(call(checkout, 'http://payments/charge'))
    expect([err.code, err.details.reason]).toEqual(['WEFT_PEER_CERTIFICATE_INVALID', 'CERT_HAS_EXPIRED'])
    expect(connections).toBe(1)
  })

  it('DISABLE calls in plaintext; PERMISSIVE uses mTLS when the caller has an identity, plaintext when not', async () => {
    const payments = await mesh('payments', { payments: { mtls: 'PERMISSIVE' } })
    const server = await listening(payments.createServer(whoAmI))
    const endpoints = [{ address: server.address }]

    const withId = await mesh('checkout', { payments: { mtls: 'PERMISSIVE', endpoints } })
    expect(JSON.parse((await call(withId, 'http://payments/')).body)).toEqual({ peer: spiffe('checkout') })
    const disabled = await mesh('checkout', { payments: { mtls: 'DISABLE', endpoints } })
    expect(JSON.parse((await call(disabled, 'http://payments/')).body)).toEqual({ peer: null })
    const anonymous = await mesh('batch', { payments: { mtls: 'PERMISSIVE', endpoints } }, 'none')
    expect(JSON.parse((await call(anonymous, 'http://payments/')).body)).toEqual({ peer: null })
    expect(meshServerStats(server.server)).toMatchObject({ mtls: 1, plaintext: 2 })
  })

  it('a port can have its own mode: a PERMISSIVE service with a STRICT port', async () => {
    const payments = await mesh('payments', { payments: { mtls: 'PERMISSIVE' } })
    const open = await listening(payments.createServer(whoAmI))
    const locked = await listening(payments.createServer(whoAmI, { mode: 'STRICT' }))
    expect((await request(`http://${open.address}/`)).statusCode).toBe(200)
    await expect(request(`http://${locked.address}/`)).rejects.toThrow()
    expect(meshServerStats(locked.server)?.refused.plaintext).toBe(1)
  })

  it('a server built by hand with mesh.serverOptions() closes a plaintext connection before the handler runs', async () => {
    const payments = await mesh('payments', { payments: { mtls: 'STRICT' } })
    let served = 0
    const server = createHttpsServer(
      payments.serverOptions(),
      weftHandler(payments, (req, res) => {
        served++
        whoAmI(req, res)
      }),
    )
    const tlsErrors: (string | undefined)[] = []
    server.on('tlsClientError', (err: Error & { code?: string }) => tlsErrors.push(err.code))
    const up = await listening(server)

    const err = await request(`http://${up.address}/charge`).then(
      () => undefined,
      (e: Error & { code?: string }) => e.code,
    )

    expect(err).toMatch(/UND_ERR_SOCKET|ECONNRESET/)
    expect(tlsErrors).toEqual(['ERR_SSL_HTTP_REQUEST'])
    expect(served).toBe(0)
  })

  it('mesh.serverOptions() gives STRICT options for a server built by hand', async () => {
    const payments = await mesh('payments', {})
    expect(payments.serverOptions()).toMatchObject({ requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' })
    const anonymous = await mesh('batch', {}, 'none')
    expect(() => anonymous.serverOptions()).toThrow(/needs an identity/)
  })
})

describe('a namespace in STRICT and an un-meshed batch caller', () => {
  it('blocks the batch job everywhere; setting one service PERMISSIVE lets it in there while the rest stay STRICT', async () => {
    const strict = { mtls: 'STRICT' }
    const orders = await mesh('orders', { orders: strict, payments: strict })
    const payments = await mesh('payments', { orders: strict, payments: strict })
    const ordersUp = await listening(orders.createServer(whoAmI))
    const paymentsUp = await listening(payments.createServer(whoAmI))
    // the batch job: plain undici, no mesh, no certificate
    const batch = (up: Upstream) => request(`http://${up.address}/nightly`).then((r) => r.statusCode)

    await expect(batch(ordersUp)).rejects.toThrow()
    await expect(batch(paymentsUp)).rejects.toThrow()

    const migrated = doc({ orders: { mtls: 'PERMISSIVE' }, payments: strict })
    await orders.update(migrated)
    await payments.update(migrated)

    expect(await batch(ordersUp)).toBe(200)
    await expect(batch(paymentsUp)).rejects.toThrow()
    expect(meshServerStats(paymentsUp.server)?.refused.plaintext).toBe(2)

    // meshed callers are unaffected: mTLS to both
    const checkout = await mesh('checkout', {
      orders: { mtls: 'PERMISSIVE', endpoints: [{ address: ordersUp.address }] },
      payments: { mtls: 'STRICT', endpoints: [{ address: paymentsUp.address }] },
    })
    expect(JSON.parse((await call(checkout, 'http://orders/')).body).peer).toBe(spiffe('checkout'))
    expect(JSON.parse((await call(checkout, 'http://payments/')).body).peer).toBe(spiffe('checkout'))
  })
})

// The adapters run the server stack themselves when the server is built by hand with mesh.serverOptions();
// behind mesh.createServer they see the call already in context and pass through.
const adapters: Record<string, (m: Mesh) => Promise<Upstream>> = {
  'node:http (weftHandler)': async (m) => listening(createHttpsServer(m.serverOptions(), weftHandler(m, whoAmI))),
  'Express (weftExpress)': async (m) => {
    const app = express()
    app.use(weftExpress(m))
    app.all('/{*path}', (req, res) => whoAmI(req, res))
    return listening(createHttpsServer(m.serverOptions(), app))
  },
  'Fastify (weftFastify)': async (m) => {
    const app = Fastify({ https: m.serverOptions() })
    await app.register(weftFastify, { mesh: m })
    app.all('/*', (_req, reply) => {
      reply.send({ peer: currentCall()?.peer?.identity ?? null })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    onTestFinished(() => app.close())
    const address = app.server.address() as { port: number }
    return { address: `127.0.0.1:${address.port}`, port: address.port, url: '', requests: [], server: app.server, close: () => app.close() }
  },
  'mesh.createServer(Express app)': async (m) => {
    const app = express()
    app.use(weftExpress(m))
    app.all('/{*path}', (req, res) => whoAmI(req, res))
    return listening(m.createServer(app))
  },
  'mesh.createServer for Fastify (serverFactory)': async (m) => {
    const app = Fastify({ serverFactory: (handler) => m.createServer(handler) })
    await app.register(weftFastify, { mesh: m })
    app.all('/*', (_req, reply) => {
      reply.send({ peer: currentCall()?.peer?.identity ?? null })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    onTestFinished(() => app.close())
    const address = app.server.address() as { port: number }
    return { address: `127.0.0.1:${address.port}`, port: address.port, url: '', requests: [], server: app.server, close: () => app.close() }
  },
}

const checkoutId = spiffe('checkout')
const batchId = spiffe('batch', 'jobs')

const matrix: [string, unknown[], { checkout: number; batch: number }][] = [
  ['no rules: everyone is allowed', [], { checkout: 200, batch: 200 }],
  ['ALLOW checkout: only checkout', [{ from: [checkoutId] }], { checkout: 200, batch: 403 }],
  ['DENY the jobs namespace', [{ action: 'DENY', namespaces: ['jobs'] }], { checkout: 200, batch: 403 }],
  [
    'DENY over ALLOW: both allowed by the trust domain, batch denied',
    [{ from: ['spiffe://weft.local/*'] }, { action: 'DENY', from: [batchId], to: { methods: ['POST'] } }],
    { checkout: 200, batch: 403 },
  ],
  ['AUDIT only: reported, never denies', [{ action: 'AUDIT', from: [batchId] }], { checkout: 200, batch: 200 }],
]

describe.each(Object.entries(adapters))('authorization through %s', (_name, start) => {
  it.each(matrix)('%s', async (_case, rules, expected) => {
    const payments = await mesh('payments', { payments: { mtls: 'STRICT', authorization: rules } })
    const up = await start(payments)
    const endpoints = [{ address: up.address }]
    const checkout = await mesh('checkout', { payments: { mtls: 'STRICT', endpoints } })
    const batch = await mesh('batch', { payments: { mtls: 'STRICT', endpoints } }, await issue('batch', 'jobs'))

    const a = await call(checkout, 'http://payments/charge', 'POST')
    const b = await call(batch, 'http://payments/charge', 'POST')

    expect([a.status, b.status]).toEqual([expected.checkout, expected.batch])
    if (a.status === 200) expect(JSON.parse(a.body).peer).toBe(checkoutId)
    if (b.status === 403) {
      expect(JSON.parse(b.body).error.code).toBe('WEFT_UNAUTHORIZED')
      expect(JSON.parse(b.body).error.message).toMatch(
        /spiffe:\/\/weft.local\/ns\/jobs\/sa\/batch may not POST \/charge on payments: (denied by authorization\[\d\]|no ALLOW rule matched)/,
      )
    }
  })
})
