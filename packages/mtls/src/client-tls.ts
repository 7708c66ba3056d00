/**
 * The client side of mTLS: a connector that presents this process's certificate and verifies the
 * peer by SPIFFE ID, never by DNS name and never by the subject CN. It reads the identity per
 * connection, so a rotated certificate is used by the next connection while open ones carry on.
 */
import { isIP, type Socket } from 'node:net'
import { type ConnectionOptions, type PeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls'
import { type Duration, isWeftError, parseDuration, WeftError } from '@weft/core'
import type { Identity } from './identity.js'
import { MIN_TLS_VERSION } from './identity.js'
import type { IdentitySource } from './identity-source.js'
import { compilePattern, type Matcher } from './pattern.js'
import { svidOfPeer } from './peer.js'
import { DEFAULT_NAMESPACE, trustDomainOf } from './spiffe-id.js'

/**
 * Who the peer must be: an exact SPIFFE ID or a pattern with `*`
 * (`spiffe://weft.local/ns/payments/*`), or a function of our own identity (for the default,
 * which depends on our trust domain).
 */
export type ExpectedPeer = string | ((self: Identity) => string)

/** What a connector is asked for: undici's connect options (host, port, an optional servername). */
export interface ConnectRequest {
  hostname: string
  host?: string
  protocol?: string
  port: string | number
  servername?: string | null
  localAddress?: string | null
  /** A socket to upgrade to TLS instead of dialling a new one. */
  httpSocket?: Socket
}

export type ConnectCallback = (...args: [null, Socket] | [Error, null]) => void

/** A connect function in the shape undici's `Pool`/`Agent`/`Client` `connect` option takes. */
export type Connector = (request: ConnectRequest, callback: ConnectCallback) => Socket

export interface ConnectorOptions {
  /** Time allowed for TCP connect plus the TLS handshake. Default `10s`. */
  connectTimeout?: Duration
  /** The service being called, for error messages. */
  service?: string
}

export const CONNECTOR_DEFAULTS = { connectTimeout: 10_000 } as const

/**
 * How long a TLS session from a fully verified handshake may be resumed by later connections of the
 * same connector (never past the peer certificate's expiry, never across a change of our identity).
 */
export const SESSION_REUSE_MS = 5 * 60_000
const MAX_SESSIONS = 256

/** The identity a service is expected to have: `services.<name>.identity`, else `spiffe://<our trust domain>/ns/default/sa/<name>`. */
export function expectedPeerFor(service: string, identity: string | undefined): ExpectedPeer {
  if (identity !== undefined) return identity
  return (self) => `spiffe://${self.trustDomain}/ns/${DEFAULT_NAMESPACE}/sa/${service}`
}

/**
 * TLS options for one connection to a peer that must prove `expected`: our certificate, the
 * bundle as the only trust, TLS 1.2 at least, and the SPIFFE check in place of the host name check.
 * Use it with `tls.connect`, or an undici `connect` object when no rotation is needed.
 */
export function clientTlsOptions(identity: Identity, expected: ExpectedPeer, service?: string): ConnectionOptions {
  const pattern = typeof expected === 'function' ? expected(identity) : expected
  return {
    secureContext: identity.clientContext,
    minVersion: MIN_TLS_VERSION,
    rejectUnauthorized: true,
    ALPNProtocols: ['http/1.1'],
    checkServerIdentity: peerChecker(pattern, compilePattern(pattern), service),
  }
}

/**
 * A connector for undici (`new Pool(origin, { connect })`) that dials mTLS with the identity
 * `source` holds at connect time and verifies the peer against `expected`. A handshake failure is
 * an error; it never falls back to plaintext.
 */
export function createConnector(
  source: Pick<IdentitySource, 'current'>,
  expected: ExpectedPeer,
  options: ConnectorOptions = {},
): Connector {
  const timeout = parseDuration(options.connectTimeout ?? CONNECTOR_DEFAULTS.connectTimeout)
  const service = options.service
  // the expected pattern depends on our trust domain only; recompiled when the identity changes
  let lastIdentity: Identity | undefined
  let check: ConnectionOptions['checkServerIdentity']
  // Resumption skips the certificate exchange, and node then skips checkServerIdentity: a session is
  // kept only from a handshake that passed this connector's check, with the identity then in force,
  // and a resumed connection's new tickets keep the original deadline (a resumption never extends it).
  const sessions = new Map<string, { session: Buffer; until: number }>()
  const checkerFor = (identity: Identity) => {
    if (identity !== lastIdentity) {
      const pattern = typeof expected === 'function' ? expected(identity) : expected
      check = peerChecker(pattern, compilePattern(pattern), service)
      lastIdentity = identity
      sessions.clear()
    }
    return check
  }

  return function connect(request, callback) {
    const identity = source.current()
    const host = request.hostname
    const servername = request.servername || (isIP(host) === 0 ? host : undefined)
    const checkServerIdentity = checkerFor(identity)
    const key = `${host}|${request.port}|${servername ?? ''}`
    const kept = sessions.get(key)
    const now = Date.now()
    const session = kept !== undefined && kept.until > now ? kept.session : undefined
    const socket = tlsConnect({
      host,
      port: Number(request.port) || 443,
      socket: request.httpSocket,
      servername,
      ...(request.localAddress ? { localAddress: request.localAddress } : {}),
      secureContext: identity.clientContext,
      minVersion: MIN_TLS_VERSION,
      rejectUnauthorized: true,
      ALPNProtocols: ['http/1.1'],
      checkServerIdentity,
      ...(session === undefined ? {} : { session }),
    })
    let until: number | undefined
    socket.on('session', (ticket: Buffer) => {
      if (until === undefined || lastIdentity !== identity) return
      // one connector usually serves one address; one used across many hosts stays bounded
      if (sessions.size >= MAX_SESSIONS && !sessions.has(key)) sessions.clear()
      sessions.set(key, { session: ticket, until })
    })
    let done = false
    // a timer of our own, not socket.setTimeout: a socket's timeout, even cleared, is re-armed by
    // node on every read and write for the connection's whole life (measured: ~3 % of client CPU per request)
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`connect and TLS handshake to ${host}:${request.port} took longer than ${timeout}ms`), {
        code: 'UND_ERR_CONNECT_TIMEOUT',
      })
      finish(err)
      socket.destroy(err)
    }, timeout)
    timer.unref()
    const finish = (err: Error | null) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (err === null) callback(null, socket)
      else callback(err, null)
    }
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 60_000)
    socket.once('secureConnect', () => {
      // here the chain and the SPIFFE check passed (or this is a resumption of a session that did)
      if (socket.isSessionReused() && kept !== undefined) until = kept.until
      else if (!socket.isSessionReused()) until = Math.min(now + SESSION_REUSE_MS, Date.parse(socket.getPeerCertificate().valid_to) || now)
      finish(null)
    })
    socket.on('error', (err) => finish(handshakeError(err, socket, host, request.port, service)))
    return socket
  }
}

/** OpenSSL's verification codes for a peer certificate that is not good enough. */
const VERIFY_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'CERT_CHAIN_TOO_LONG',
  'PATH_LENGTH_EXCEEDED',
  'EE_KEY_TOO_SMALL',
  'CA_KEY_TOO_SMALL',
  'CA_MD_TOO_WEAK',
])

/** A refused server certificate as WEFT_PEER_CERTIFICATE_INVALID; anything else as it came (the transport classifies it). */
function handshakeError(err: Error, socket: TLSSocket, host: string, port: string | number, service: string | undefined): Error {
  if (isWeftError(err)) return err
  const code = (err as NodeJS.ErrnoException).code
  // OpenSSL's verdict on the chain: Node sets authorizationError before it destroys the socket
  const refused =
    (typeof code === 'string' && VERIFY_CODES.has(code)) || (socket.authorized === false && Boolean(socket.authorizationError))
  if (!refused) return err
  const reason = typeof code === 'string' && code !== 'UNSPECIFIED' ? code : err.message
  const who = service === undefined ? `${host}:${port}` : `${service} at ${host}:${port}`
  return new WeftError('WEFT_PEER_CERTIFICATE_INVALID', `server certificate of ${who} refused: ${reason} (${err.message})`, {
    cause: err,
    details: { reason, side: 'client', endpoint: `${host}:${port}`, ...(service === undefined ? {} : { service }) },
  })
}

/** The check run in place of Node's host name check, once OpenSSL has verified the chain. */
function peerChecker(pattern: string, matches: Matcher, service: string | undefined) {
  return (host: string, cert: PeerCertificate): Error | undefined => {
    const verdict = svidOfPeer(cert)
    if (verdict.problem !== undefined) {
      return new WeftError(
        'WEFT_PEER_CERTIFICATE_INVALID',
        `server certificate of ${service ?? host} is not a valid X.509-SVID: ${verdict.problem}`,
        {
          details: { reason: verdict.problem, side: 'client', ...(service === undefined ? {} : { service }) },
        },
      )
    }
    if (!matches(verdict.spiffeId)) {
      return new WeftError(
        'WEFT_PEER_IDENTITY_MISMATCH',
        `${service ?? host} presented ${verdict.spiffeId}, expected ${pattern}` +
          (pattern.startsWith('spiffe://') && !pattern.includes('*') && trustDomainOf(pattern) !== trustDomainOf(verdict.spiffeId)
            ? ' (another trust domain)'
            : ''),
        { details: { expected: pattern, actual: verdict.spiffeId, ...(service === undefined ? {} : { service }) } },
      )
    }
    return undefined
  }
}

/** The SPIFFE ID of the server on an outbound TLS socket, once connected. */
export function serverIdentityOf(socket: TLSSocket): string | undefined {
  const cert = socket.getPeerCertificate()
  if (cert?.raw === undefined) return undefined
  return svidOfPeer(cert).spiffeId
}
