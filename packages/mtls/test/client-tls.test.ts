import https from 'node:https'
import net from 'node:net'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import { isWeftError, type WeftError } from '@weft/core'
import { Pool, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  type Connector,
  clientTlsOptions,
  createConnector,
  createIdentity,
  createIdentitySource,
  expectedPeerFor,
  type IdentityPems,
} from '../src/index.js'
import { anchorFor, craft, id, listen, svid } from './helpers.js'

/** A TLS server presenting whatever certificate it is given, the way a careless peer would. */
async function peerPresenting(pems: IdentityPems, extra: https.ServerOptions = {}) {
  let served = 0
  const server = https.createServer(
    { cert: pems.cert, key: pems.key, ca: pems.bundle, requestCert: true, rejectUnauthorized: false, ...extra },
    (_req, res) => {
      served++
      res.end('ok')
    },
  )
  const { url } = await listen(server)
  return { url, served: () => served }
}

/** Calls `url` through undici with our connector, as the transport does. */
async function callAs(me: IdentityPems, url: string, expected: string | ReturnType<typeof expectedPeerFor>) {
  const source = await createIdentitySource(me)
  const pool = new Pool(url, { connect: createConnector(source, expected, { service: 'payments' }) })
  onTestFinished(() => pool.destroy())
  const res = await request(`${url}/charge`, { dispatcher: pool })
  return { status: res.statusCode, body: await res.body.text() }
}

async function refusal(promise: Promise<unknown>): Promise<WeftError> {
  try {
    await promise
  } catch (err) {
    if (isWeftError(err)) return err
    throw err
  }
  throw new Error('the call succeeded')
}

describe('the client connector verifies the peer by SPIFFE ID', () => {
  it('connects when the server proves the expected identity', async () => {
    const peer = await peerPresenting(await svid('payments'))
    expect(await callAs(await svid('checkout'), peer.url, id('payments'))).toEqual({ status: 200, body: 'ok' })
  })

  it('expects spiffe://<our trust domain>/ns/default/sa/<service> by default', async () => {
    const peer = await peerPresenting(await svid('payments'))
    expect((await callAs(await svid('checkout'), peer.url, expectedPeerFor('payments', undefined))).status).toBe(200)
    const err = await refusal(callAs(await svid('checkout'), peer.url, expectedPeerFor('orders', undefined)))
    expect(err.code).toBe('WEFT_PEER_IDENTITY_MISMATCH')
  })

  it('accepts a pattern from policy', async () => {
    const peer = await peerPresenting(await svid('payments-v2', { ns: 'billing' }))
    expect((await callAs(await svid('checkout'), peer.url, 'spiffe://weft.local/ns/billing/*')).status).toBe(200)
  })

  it('fails with WEFT_PEER_IDENTITY_MISMATCH naming both IDs, and never sends the request', async () => {
    const peer = await peerPresenting(await svid('impostor'))
    const err = await refusal(callAs(await svid('checkout'), peer.url, id('payments')))

    expect(err.code).toBe('WEFT_PEER_IDENTITY_MISMATCH')
    expect(err.message).toContain(id('impostor'))
    expect(err.message).toContain(id('payments'))
    expect(err.details).toMatchObject({ expected: id('payments'), actual: id('impostor'), service: 'payments' })
    expect(peer.served()).toBe(0)
  })

  it('refuses a trusted CA’s certificate for another trust domain than expected', async () => {
    // the bundle trusts both anchors (federation), but policy expects weft.local
    const other = await svid('payments', { trustDomain: 'other.local' })
    const me = await svid('checkout')
    const bundle = me.bundle + other.bundle
    const peer = await peerPresenting({ ...other, bundle })
    const err = await refusal(callAs({ ...me, bundle }, peer.url, id('payments')))

    expect([err.code, err.message]).toEqual(['WEFT_PEER_IDENTITY_MISMATCH', expect.any(String)])
    expect(err.message).toMatch(
      /presented spiffe:\/\/other.local\/ns\/default\/sa\/payments, expected spiffe:\/\/weft.local\/ns\/default\/sa\/payments \(another trust domain\)/,
    )
  })

  it('refuses a chain to another anchor at the handshake', async () => {
    const peer = await peerPresenting(await svid('payments', { trustDomain: 'evil.local' }))
    const err = await refusal(callAs(await svid('checkout'), peer.url, id('payments')))
    expect(err.code).toBe('WEFT_PEER_CERTIFICATE_INVALID')
    expect(err.details.reason).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN/)
    expect(peer.served()).toBe(0)
  })

  it('refuses an expired or not yet valid server certificate', async () => {
    const expired = await svid('payments', { notBefore: new Date(Date.now() - 7_200_000), lifetime: '1h' })
    const early = await svid('payments', { notBefore: new Date(Date.now() + 3_600_000) })
    const me = await svid('checkout')

    const a = await refusal(callAs(me, (await peerPresenting(expired)).url, id('payments')))
    expect([a.code, a.details.reason]).toEqual(['WEFT_PEER_CERTIFICATE_INVALID', 'CERT_HAS_EXPIRED'])
    const b = await refusal(callAs(me, (await peerPresenting(early)).url, id('payments')))
    expect([b.code, b.details.reason]).toEqual(['WEFT_PEER_CERTIFICATE_INVALID', 'CERT_NOT_YET_VALID'])
  })

  // Node's own checkServerIdentity would accept most of these: it matches 127.0.0.1 against the IP SAN
  // or falls back to the subject CN. weft ignores DNS names, IPs and the CN.
  it.each([
    ['a leaf with CA:TRUE', { uris: [id('payments')], ca: true, ips: ['127.0.0.1'] }, /CA flag/],
    ['two URI SANs', { uris: [id('payments'), id('admin')], ips: ['127.0.0.1'] }, /2 URI SANs/],
    ['no URI SAN, only an IP SAN matching the host', { ips: ['127.0.0.1'] }, /no URI SAN/],
    ['no URI SAN, only a DNS SAN', { dns: ['payments'] }, /no URI SAN/],
    ['spiffe:// only in the subject CN', { noSan: true, subject: `CN=${id('payments')}` }, /no URI SAN/],
    ['a URI SAN with ", URI:" inside', { uris: [`${id('payments')}, URI:${id('admin')}`] }, /not a valid SPIFFE ID/],
    // OpenSSL's default security level refuses this one too; weft's own rule covers peers that lowered it
    ['a weak RSA key', { uris: [id('payments')], rsaBits: 1024 }, /RSA key of 1024 bits|key too weak/],
  ])('refuses a server certificate with %s', async (_name, options, rule) => {
    // SECLEVEL=0 lets the careless peer load a 1024-bit key at all
    const peer = await peerPresenting(await craft(await anchorFor(), options), { ciphers: 'DEFAULT@SECLEVEL=0' })
    const err = await refusal(callAs(await svid('checkout'), peer.url, id('payments')))
    expect(err.code).toBe('WEFT_PEER_CERTIFICATE_INVALID')
    expect(err.message).toMatch(rule)
    expect(peer.served()).toBe(0)
  })

  it('refuses to speak TLS below 1.2', async () => {
    const peer = await peerPresenting(await svid('payments'), { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })
    const err = await callAs(await svid('checkout'), peer.url, id('payments')).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    )
    expect(err?.code).toMatch(/ERR_SSL_(UNSUPPORTED_PROTOCOL|TLSV1_ALERT_PROTOCOL_VERSION|NO_PROTOCOLS_AVAILABLE)/)
    expect(peer.served()).toBe(0)
  })

  it('gives tls.connect options that do the same checks', async () => {
    const peer = await peerPresenting(await svid('impostor'))
    const identity = createIdentity(await svid('checkout'))
    const port = Number(new URL(peer.url).port)
    const err = await new Promise<Error>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ...clientTlsOptions(identity, id('payments')) })
      socket.on('error', resolve)
    })
    expect(isWeftError(err) && err.code).toBe('WEFT_PEER_IDENTITY_MISMATCH')
  })
})

describe('the connect timeout', () => {
  it('fails a handshake that does not finish in time with UND_ERR_CONNECT_TIMEOUT', async () => {
    // accepts the TCP connection and never answers the ClientHello
    const held = new Set<net.Socket>()
    const silent = net.createServer((socket) => held.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => {
      for (const socket of held) socket.destroy()
      silent.close()
    })
    const { port } = silent.address() as net.AddressInfo
    const connect = createConnector(await createIdentitySource(await svid('checkout')), id('payments'), { connectTimeout: '50ms' })
    const err = await new Promise<Error & { code?: string }>((resolve, reject) =>
      connect({ hostname: '127.0.0.1', port }, (e, socket) => (e === null ? reject(new Error(`connected: ${socket}`)) : resolve(e))),
    )
    expect(err.code).toBe('UND_ERR_CONNECT_TIMEOUT')
  })

  it('does not limit a connection once it is established', async () => {
    const peer = await peerPresenting(await svid('payments'))
    const source = await createIdentitySource(await svid('checkout'))
    const pool = new Pool(peer.url, { connections: 1, connect: createConnector(source, id('payments'), { connectTimeout: '50ms' }) })
    onTestFinished(() => pool.destroy())
    const first = await request(`${peer.url}/a`, { dispatcher: pool })
    await first.body.text()
    // idle past the connect timeout, then use the same kept-alive connection again
    await new Promise((resolve) => setTimeout(resolve, 150))
    const second = await request(`${peer.url}/b`, { dispatcher: pool })
    expect([second.statusCode, await second.body.text()]).toEqual([200, 'ok'])
    expect(peer.served()).toBe(2)
  })
})

describe('TLS session resumption', () => {
  /** Connects once with `connect` and tells whether the TLS session was resumed. */
  async function resumed(connect: Connector, port: number): Promise<boolean> {
    const socket = await new Promise<TLSSocket>((resolve, reject) =>
      connect({ hostname: '127.0.0.1', port }, (err, s) => (err === null ? resolve(s as TLSSocket) : reject(err))),
    )
    const reused = socket.isSessionReused()
    // a full handshake's tickets arrive after it; the next connection can only resume once they did
    if (!reused) await new Promise((resolve) => socket.once('session', resolve))
    socket.destroy()
    return reused
  }

  it('a new connection to the same peer resumes the verified session instead of a full handshake', async () => {
    const peer = await peerPresenting(await svid('payments'))
    const port = Number(new URL(peer.url).port)
    const connect = createConnector(await createIdentitySource(await svid('checkout')), id('payments'))
    expect(await resumed(connect, port)).toBe(false)
    expect(await resumed(connect, port)).toBe(true)
  })

  it('is never offered across connectors: another expected identity makes its own full, checked handshake', async () => {
    const peer = await peerPresenting(await svid('payments'))
    const port = Number(new URL(peer.url).port)
    const me = await createIdentitySource(await svid('checkout'))
    await resumed(createConnector(me, id('payments')), port)
    const err = await resumed(createConnector(me, id('orders')), port).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isWeftError(err) && err.code).toBe('WEFT_PEER_IDENTITY_MISMATCH')
  })

  it('starts over with a full handshake once our identity is renewed', async () => {
    const peer = await peerPresenting(await svid('payments'))
    const port = Number(new URL(peer.url).port)
    const source = await createIdentitySource(await svid('checkout'))
    const connect = createConnector(source, id('payments'))
    await resumed(connect, port)
    source.update(await svid('checkout'))
    expect(await resumed(connect, port)).toBe(false)
  })
})
