import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect as netConnect } from 'node:net'
import { type SecureVersion, type TLSSocket, connect as tlsConnect } from 'node:tls'
import { Pool, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  createConnector,
  createIdentitySource,
  createMeshServer,
  type IdentityPems,
  type MeshServerOptions,
  type MtlsMode,
  meshServerStats,
  peerIdentityOf,
  type RefusedConnection,
} from '../src/index.js'
import { x509 as loadX509 } from '../src/x509.js'
import { anchorFor, craft, id, listen, svid } from './helpers.js'

const x509 = loadX509()

/** Answers with what the server knows of the caller. */
function whoAmI(req: IncomingMessage, res: ServerResponse) {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ peer: peerIdentityOf(req.socket) ?? null, tls: Boolean((req.socket as { encrypted?: boolean }).encrypted) }))
}

async function meshServer(mode: MtlsMode | (() => MtlsMode), options: Partial<MeshServerOptions> & { as?: IdentityPems } = {}) {
  const identity = await createIdentitySource(options.as ?? (await svid('payments')))
  const refusals: RefusedConnection[] = []
  let served = 0
  const server = createMeshServer(
    (req, res) => {
      served++
      whoAmI(req, res)
    },
    { identity, mode, onRefused: (r) => refusals.push(r), ...options },
  )
  const { port } = await listen(server)
  return { server, port, refusals, served: () => served, stats: () => meshServerStats(server) }
}

/** A meshed caller: mTLS with its own SVID, expecting the server to be payments. */
async function meshedCall(port: number, me: IdentityPems, expected = id('payments')) {
  const pool = new Pool(`https://127.0.0.1:${port}`, { connect: createConnector(await createIdentitySource(me), expected) })
  onTestFinished(() => pool.destroy())
  const res = await request(`https://127.0.0.1:${port}/who`, { dispatcher: pool })
  return { status: res.statusCode, ...((await res.body.json()) as { peer: string | null; tls: boolean }) }
}

/** An un-meshed caller: plain HTTP. */
async function plaintextCall(port: number, headers: Record<string, string> = {}) {
  const res = await request(`http://127.0.0.1:${port}/who`, { headers })
  return { status: res.statusCode, ...((await res.body.json()) as { peer: string | null; tls: boolean }) }
}

/** TLS that trusts the bundle but presents no certificate. */
function tlsWithoutCertificate(port: number, bundle: string) {
  return rawTlsCall(port, { ca: bundle })
}

/** A hand-rolled TLS client presenting whatever it is given (weft's own connector would refuse to load a bad certificate). */
function rawTlsCall(
  port: number,
  options: { ca: string; cert?: string; key?: string; ciphers?: string },
): Promise<{ error?: string; body?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...options, checkServerIdentity: () => undefined })
    let body = ''
    socket.on('secureConnect', () => socket.write('GET /who HTTP/1.1\r\nhost: payments\r\nconnection: close\r\n\r\n'))
    socket.on('data', (d) => (body += d))
    socket.on('error', (err: Error & { code?: string }) => resolve({ error: err.code }))
    socket.on('close', () => resolve({ body }))
  })
}

/** A careless client presenting an SVID with a 1024-bit RSA key; SECLEVEL=0 lets it load such a key at all. */
async function weakRsaCall(port: number) {
  const weak = await craft(await anchorFor(), { uris: [id('checkout')], rsaBits: 1024 })
  return rawTlsCall(port, { ...weak, ca: weak.bundle, ciphers: 'DEFAULT@SECLEVEL=0' })
}

/** A meshed caller on node:tls with its own version cap: the TLS version it got, and the answer to one request. */
function versionedCall(port: number, me: IdentityPems, maxVersion?: SecureVersion): Promise<{ protocol: string | null; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...me, ca: me.bundle, checkServerIdentity: () => undefined, maxVersion })
    let protocol: string | null = null
    let body = ''
    socket.on('secureConnect', () => {
      protocol = socket.getProtocol()
      socket.write('GET /who HTTP/1.1\r\nhost: payments\r\nconnection: close\r\n\r\n')
    })
    socket.on('data', (d) => (body += d))
    socket.on('error', reject)
    socket.on('close', () => resolve({ protocol, body }))
  })
}

describe('STRICT', () => {
  it('serves mTLS callers and gives the handler their verified identity', async () => {
    const s = await meshServer('STRICT')
    expect(await meshedCall(s.port, await svid('checkout'))).toEqual({ status: 200, peer: id('checkout'), tls: true })
    expect(s.stats()?.mtls).toBe(1)
  })

  it('refuses plaintext: the connection is closed, counted, and the handler never runs', async () => {
    const s = await meshServer('STRICT')
    const err = await plaintextCall(s.port).then(
      () => undefined,
      (e: Error & { code?: string }) => e.code,
    )
    expect(err).toMatch(/UND_ERR_SOCKET|ECONNRESET/)
    expect(s.served()).toBe(0)
    expect(s.stats()?.refused.plaintext).toBe(1)
    expect(s.refusals.map((r) => [r.reason, r.mode])).toEqual([['plaintext', 'STRICT']])
  })

  it('verifies the caller once per connection: later requests on a kept-alive connection reuse the verdict', async () => {
    const s = await meshServer('STRICT')
    const sockets = new Set<object>()
    let certificateReads = 0
    // runs before weft's own check (prepended later), so it counts weft's reads as well
    s.server.prependListener('secureConnection', (socket: TLSSocket) => {
      sockets.add(socket)
      const read = socket.getPeerCertificate.bind(socket)
      socket.getPeerCertificate = ((detailed?: boolean) => {
        certificateReads++
        return read(detailed as true)
      }) as TLSSocket['getPeerCertificate']
    })
    const pool = new Pool(`https://127.0.0.1:${s.port}`, {
      connections: 1,
      connect: createConnector(await createIdentitySource(await svid('checkout')), id('payments')),
    })
    onTestFinished(() => pool.destroy())

    const peers: unknown[] = []
    for (let i = 0; i < 5; i++) {
      const res = await request(`https://127.0.0.1:${s.port}/who`, { dispatcher: pool })
      peers.push(((await res.body.json()) as { peer: string }).peer)
    }

    expect(peers).toEqual(Array(5).fill(id('checkout')))
    expect(sockets.size).toBe(1)
    expect(certificateReads).toBe(1)
  })

  it('prefers TLS 1.3 AES-128-GCM, and still serves a client that offers only AES-256-GCM', async () => {
    const s = await meshServer('STRICT')
    const me = await svid('checkout')
    const cipherOf = (ciphers?: string) =>
      new Promise<string | undefined>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: s.port, ...me, ca: me.bundle, checkServerIdentity: () => undefined, ciphers })
        socket.on('secureConnect', () => {
          resolve(socket.getCipher().standardName)
          socket.destroy()
        })
        socket.on('error', reject)
      })
    // node's own client lists AES-256-GCM first; the server's order wins
    expect(await cipherOf()).toBe('TLS_AES_128_GCM_SHA256')
    expect(await cipherOf('TLS_AES_256_GCM_SHA384')).toBe('TLS_AES_256_GCM_SHA384')
  })

  it('a resumed TLS session still gives the handler the verified identity, checked again', async () => {
    const s = await meshServer('STRICT')
    const reused: boolean[] = []
    s.server.on('secureConnection', (socket: TLSSocket) => reused.push(socket.isSessionReused()))
    const connect = createConnector(await createIdentitySource(await svid('checkout')), id('payments'))
    const peers: unknown[] = []
    for (let i = 0; i < 2; i++) {
      const pool = new Pool(`https://127.0.0.1:${s.port}`, { connect })
      const res = await request(`https://127.0.0.1:${s.port}/who`, { dispatcher: pool })
      peers.push(((await res.body.json()) as { peer: string }).peer)
      await pool.destroy()
    }
    expect(reused).toEqual([false, true])
    expect(peers).toEqual([id('checkout'), id('checkout')])
    expect(s.stats()?.mtls).toBe(2)
  })

  it('refuses a TLS client without a certificate at the handshake', async () => {
    const s = await meshServer('STRICT')
    const outcome = await tlsWithoutCertificate(s.port, (await anchorFor()).cert)
    expect(outcome.error).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')
    expect(s.served()).toBe(0)
    expect(s.stats()?.refused.handshake).toBe(1)
  })

  it('refuses a client whose certificate chains to another anchor', async () => {
    const s = await meshServer('STRICT')
    const stranger = await svid('checkout', { trustDomain: 'evil.local' })
    // the client trusts our anchor (to verify the server) but presents a certificate from its own
    const err = await meshedCall(s.port, { ...stranger, bundle: stranger.bundle + (await anchorFor()).cert }).then(
      () => undefined,
      (e: Error & { code?: string }) => e.code,
    )
    expect(err).toMatch(/ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|UND_ERR_SOCKET|ECONNRESET/)
    expect(s.served()).toBe(0)
  })

  it.each([
    ['an expired client certificate', { notBefore: new Date(Date.now() - 7_200_000), lifetime: '1h' }],
    ['a client certificate not valid yet', { notBefore: new Date(Date.now() + 3_600_000) }],
  ])('refuses %s at the handshake, and the handler never runs', async (_name, validity) => {
    const s = await meshServer('STRICT')
    const me = await svid('checkout', validity)
    const outcome = await rawTlsCall(s.port, { ...me, ca: me.bundle })
    expect(outcome.body ?? '').not.toContain('200 OK')
    expect(s.served()).toBe(0)
    expect(s.stats()?.refused.handshake).toBe(1)
  })

  it.each([
    ['a leaf with CA:TRUE', { uris: [id('checkout')], ca: true }, /CA flag/],
    [
      'keyCertSign in key usage',
      { uris: [id('checkout')], keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign },
      /keyCertSign/,
    ],
    ['two URI SANs', { uris: [id('checkout'), id('admin')] }, /2 URI SANs/],
    ['no URI SAN', { dns: ['checkout'] }, /no URI SAN/],
    ['spiffe:// only in the subject CN', { noSan: true, subject: `CN=${id('checkout')}` }, /never read from the subject CN/],
    ['a URI SAN with ", URI:" inside', { uris: [`${id('checkout')}, URI:${id('admin')}`] }, /not a valid SPIFFE ID/],
  ])('refuses a client certificate with %s after the handshake, before the application', async (_name, options, rule) => {
    const s = await meshServer('STRICT')
    const bad = await craft(await anchorFor(), options)
    const outcome = await rawTlsCall(s.port, { ...bad, ca: bad.bundle })
    expect(outcome.body ?? '').not.toContain('200 OK')
    expect(s.served()).toBe(0)
    expect(s.refusals.map((r) => r.reason)).toEqual(['certificate'])
    expect(s.refusals[0]?.error?.message).toMatch(rule)
  })

  it('refuses a client certificate with a weak RSA key before the application sees it', async () => {
    const s = await meshServer('STRICT')
    const outcome = await weakRsaCall(s.port)
    expect(outcome.body ?? '').not.toContain('200 OK')
    expect(s.served()).toBe(0)
    // Node 24's OpenSSL refuses the key in the handshake; Node 22's lets it through, and weft's own
    // X.509-SVID check refuses the certificate right after: one refusal either way
    const refused = s.stats()?.refused
    expect((refused?.handshake ?? 0) + (refused?.certificate ?? 0)).toBe(1)
  })

  it('refuses a client from another trust domain even when the bundle trusts its anchor', async () => {
    const other = await svid('checkout', { trustDomain: 'other.local' })
    const mine = await svid('payments')
    const bundle = mine.bundle + other.bundle
    const s = await meshServer('STRICT', { as: { ...mine, bundle } })
    await expect(meshedCall(s.port, { ...other, bundle })).rejects.toThrow()
    expect(s.refusals[0]?.error?.message).toMatch(
      /client identity spiffe:\/\/other.local\/ns\/default\/sa\/checkout is in trust domain other.local, expected weft.local/,
    )
  })

  it('negotiates TLS 1.3 with a client that offers it', async () => {
    const s = await meshServer('STRICT')
    const { protocol, body } = await versionedCall(s.port, await svid('checkout'))
    expect(protocol).toBe('TLSv1.3')
    expect(body).toContain(JSON.stringify({ peer: id('checkout'), tls: true }))
  })

  it('still serves a client capped at TLS 1.2, over TLS 1.2', async () => {
    const s = await meshServer('STRICT')
    const { protocol, body } = await versionedCall(s.port, await svid('checkout'), 'TLSv1.2')
    expect(protocol).toBe('TLSv1.2')
    expect(body).toContain(JSON.stringify({ peer: id('checkout'), tls: true }))
    expect(s.stats()?.mtls).toBe(1)
  })

  it('refuses TLS 1.1 and older', async () => {
    const s = await meshServer('STRICT')
    const me = await svid('checkout')
    const error = await new Promise<string | undefined>((resolve) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: s.port,
        ...me,
        ca: me.bundle,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      })
      socket.on('error', (e: Error & { code?: string }) => resolve(e.code))
      socket.on('secureConnect', () => resolve(undefined))
    })
    expect(error).toMatch(/ERR_SSL_(TLSV1_ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE)/)
    expect(s.served()).toBe(0)
  })
})

describe('PERMISSIVE', () => {
  it('accepts mTLS and plaintext on one port and tells the handler which', async () => {
    const s = await meshServer('PERMISSIVE')

    expect(await meshedCall(s.port, await svid('checkout'))).toEqual({ status: 200, peer: id('checkout'), tls: true })
    expect(await plaintextCall(s.port)).toEqual({ status: 200, peer: null, tls: false })
    expect(s.stats()).toMatchObject({ mtls: 1, plaintext: 1 })
  })

  it('serves a large plaintext body whose first bytes were sniffed', async () => {
    const s = await meshServer('PERMISSIVE')
    const body = 'x'.repeat(256 * 1024)
    const res = await request(`http://127.0.0.1:${s.port}/upload`, { method: 'POST', body })
    expect(res.statusCode).toBe(200)
    await res.body.text()
  })

  it('accepts TLS without a client certificate as a caller with no identity', async () => {
    const s = await meshServer('PERMISSIVE')
    const outcome = await tlsWithoutCertificate(s.port, (await anchorFor()).cert)
    expect(outcome.body).toContain('{"peer":null,"tls":true}')
    expect(s.stats()?.tls).toBe(1)
  })

  it('never takes an identity from a header', async () => {
    const s = await meshServer('PERMISSIVE')
    const spoofed = await plaintextCall(s.port, {
      'x-forwarded-client-cert': `By=${id('payments')};URI=${id('admin')}`,
      'x-weft-peer-identity': id('admin'),
    })
    expect(spoofed.peer).toBeNull()
  })

  it('still refuses a client certificate that fails verification', async () => {
    const s = await meshServer('PERMISSIVE')
    const expired = await svid('checkout', { notBefore: new Date(Date.now() - 7_200_000), lifetime: '1h' })
    const outcome = await rawTlsCall(s.port, { ...expired, ca: expired.bundle })
    expect(outcome.body ?? '').not.toContain('200 OK')
    expect(s.served()).toBe(0)
    expect(s.refusals[0]?.error?.message).toMatch(/client certificate refused: CERT_HAS_EXPIRED/)
  })

  it('refuses a client certificate with a weak RSA key, saying so', async () => {
    const s = await meshServer('PERMISSIVE')
    const outcome = await weakRsaCall(s.port)
    expect(outcome.body ?? '').not.toContain('200 OK')
    expect(s.served()).toBe(0)
    // refused by OpenSSL in the handshake (Node 24) or by weft's X.509-SVID check after it (Node 22): the reason names the key either way
    expect(s.refusals[0]?.error?.message).toMatch(/^client certificate .*RSA key of 1024 bits is too weak/)
  })

  it('closes a connection that sends nothing within the first-byte timeout', async () => {
    const s = await meshServer('PERMISSIVE', { firstByteTimeout: '50ms' })
    await new Promise<void>((resolve) => {
      const socket = netConnect(s.port, '127.0.0.1')
      socket.on('close', () => resolve())
      socket.on('error', () => {})
    })
    expect(s.refusals.map((r) => r.reason)).toEqual(['timeout'])
  })

  it('does not count a connection that closed before its first byte as a timeout', async () => {
    const s = await meshServer('PERMISSIVE', { firstByteTimeout: '50ms' })
    await new Promise<void>((resolve) => {
      const socket = netConnect(s.port, '127.0.0.1', () => socket.end())
      socket.on('close', () => resolve())
    })
    // past the first-byte timeout: a timer left armed would refuse (and count) the closed socket now
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(s.refusals).toEqual([])
  })

  it('puts no time limit on a connection once its first byte arrived', async () => {
    const identity = await createIdentitySource(await svid('payments'))
    const refusals: RefusedConnection[] = []
    const server = createMeshServer(
      (_req, res) => {
        setTimeout(() => res.end('late'), 150)
      },
      { identity, mode: 'PERMISSIVE', firstByteTimeout: '50ms', onRefused: (r) => refusals.push(r) },
    )
    const { port } = await listen(server)
    const res = await request(`http://127.0.0.1:${port}/slow`)
    expect([res.statusCode, await res.body.text()]).toEqual([200, 'late'])
    expect(refusals).toEqual([])
  })
})

describe('DISABLE', () => {
  it('serves plaintext, and TLS callers get no handshake', async () => {
    const s = await meshServer('DISABLE')
    expect(await plaintextCall(s.port)).toEqual({ status: 200, peer: null, tls: false })
    await expect(meshedCall(s.port, await svid('checkout'))).rejects.toThrow()
  })

  it('serves plaintext without any identity at all', async () => {
    const server = createMeshServer(whoAmI, { mode: 'DISABLE' })
    const { port } = await listen(server)
    expect(await plaintextCall(port)).toEqual({ status: 200, peer: null, tls: false })
  })
})

describe('the mode is read per connection', () => {
  it('a policy change from STRICT to PERMISSIVE lets plaintext in on new connections', async () => {
    let mode: MtlsMode = 'STRICT'
    const s = await meshServer(() => mode)
    await expect(plaintextCall(s.port)).rejects.toThrow()
    mode = 'PERMISSIVE'
    expect((await plaintextCall(s.port)).status).toBe(200)
  })

  it('STRICT without an identity refuses everything rather than serve plaintext', async () => {
    const server = createMeshServer(whoAmI, { mode: 'STRICT' })
    const { port } = await listen(server)
    await expect(plaintextCall(port)).rejects.toThrow()
    expect(meshServerStats(server)?.refused.plaintext).toBe(1)
  })
})
