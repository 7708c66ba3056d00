/**
 * The peer's identity, read only from a TLS socket whose chain OpenSSL verified, after the
 * X.509-SVID rules: never from a header, never from the subject CN, never from a DNS name.
 */
import type { Socket } from 'node:net'
import type { PeerCertificate, TLSSocket } from 'node:tls'
import { type Peer, WeftError } from '@weft/core'
import { describeCertificate } from './certificate.js'
import { trustDomainOf } from './spiffe-id.js'

/** The SPIFFE ID a peer certificate proves, or the SVID rules it breaks. */
export type PeerVerdict =
  | { readonly spiffeId: string; readonly problem?: undefined }
  | { readonly spiffeId?: undefined; readonly problem: string }

// A handshake per connection, not per request; still, a mesh sees the same few peers again and again.
const MAX_CACHED = 1024
const verdicts = new Map<string, PeerVerdict>()

/** Reads a chain-verified peer certificate as an SVID; cached by fingerprint. */
export function svidOfPeer(cert: Pick<PeerCertificate, 'raw' | 'fingerprint256'>): PeerVerdict {
  const key = cert.fingerprint256
  const cached = key === undefined ? undefined : verdicts.get(key)
  if (cached !== undefined) return cached
  const verdict = verdictOf(cert.raw)
  if (key !== undefined) {
    if (verdicts.size >= MAX_CACHED) verdicts.clear()
    verdicts.set(key, verdict)
  }
  return verdict
}

/** The X.509-SVID rules applied to a certificate, uncached. */
function verdictOf(raw: Buffer): PeerVerdict {
  try {
    const d = describeCertificate(raw)
    return d.svidProblems.length === 0 && d.spiffeId !== undefined ? { spiffeId: d.spiffeId } : { problem: d.svidProblems.join('; ') }
  } catch (err) {
    return { problem: (err as Error).message }
  }
}

const PEER = Symbol.for('weft.mtls.peer')
const NO_PEER = Object.freeze({ none: true })

type Tagged = Socket & { [PEER]?: Peer | typeof NO_PEER }

/**
 * The verified identity of the peer on an inbound socket, or `undefined` (plaintext, TLS without a
 * client certificate, or a certificate that is not a valid SVID of an accepted trust domain).
 * Computed once per connection and cached on the socket, so calling it per request is O(1).
 */
export function peerOf(socket: Socket | undefined, trustDomains?: readonly string[]): Peer | undefined {
  if (socket === undefined) return undefined
  const tagged = socket as Tagged
  const known = tagged[PEER]
  if (known !== undefined) return known === NO_PEER ? undefined : (known as Peer)
  const result = verifyClientSocket(socket, trustDomains)
  const peer = result.spiffeId === undefined ? undefined : Object.freeze({ identity: result.spiffeId })
  tagged[PEER] = peer ?? NO_PEER
  return peer
}

/** The peer's SPIFFE ID, or `undefined`: `peerOf(socket)?.identity`. */
export function peerIdentityOf(socket: Socket | undefined, trustDomains?: readonly string[]): string | undefined {
  return peerOf(socket, trustDomains)?.identity
}

export interface ClientSocketVerdict {
  /** Set when the client proved an identity. */
  readonly spiffeId?: string
  /** Set when the client presented a certificate that must be refused; the connection should close. */
  readonly error?: WeftError
}

/**
 * Checks the client of an inbound TLS socket: no certificate → no identity; a certificate that
 * failed chain verification, breaks the SVID rules, or names a trust domain outside
 * `trustDomains` (when given) → an error to refuse the connection with.
 */
export function verifyClientSocket(socket: Socket, trustDomains?: readonly string[]): ClientSocketVerdict {
  const tls = socket as TLSSocket
  if (tls.encrypted !== true || typeof tls.getPeerCertificate !== 'function') return {}
  const cert = tls.getPeerCertificate()
  if (cert === null || cert === undefined || cert.raw === undefined) return {}
  if (!tls.authorized) {
    const reason = String(tls.authorizationError ?? 'unknown')
    // OpenSSL verdicts Node has no name for (a key too weak for the security level) read UNSPECIFIED: the SVID rules say what is wrong
    // uncached: a certificate the handshake refused must not take a place among the verified peers' verdicts
    const problem = reason === 'UNSPECIFIED' ? verdictOf(cert.raw).problem : undefined
    const why = problem === undefined ? reason : `${reason} (${problem})`
    return {
      error: new WeftError('WEFT_PEER_CERTIFICATE_INVALID', `client certificate refused: ${why}`, {
        details: { reason, side: 'server' },
      }),
    }
  }
  const verdict = svidOfPeer(cert)
  if (verdict.problem !== undefined) {
    return {
      error: new WeftError('WEFT_PEER_CERTIFICATE_INVALID', `client certificate is not a valid X.509-SVID: ${verdict.problem}`, {
        details: { reason: verdict.problem, side: 'server' },
      }),
    }
  }
  const td = trustDomainOf(verdict.spiffeId)
  if (trustDomains !== undefined && !trustDomains.includes(td)) {
    return {
      error: new WeftError(
        'WEFT_PEER_IDENTITY_MISMATCH',
        `client identity ${verdict.spiffeId} is in trust domain ${td}, expected ${trustDomains.join(' or ')}`,
        { details: { actual: verdict.spiffeId, expected: trustDomains.map((t) => `spiffe://${t}/*`).join(', '), side: 'server' } },
      ),
    }
  }
  return { spiffeId: verdict.spiffeId }
}

/** Records the verdict reached at the handshake, so `peerOf` does not verify again. */
export function tagPeer(socket: Socket, spiffeId: string | undefined): void {
  ;(socket as Tagged)[PEER] = spiffeId === undefined ? NO_PEER : Object.freeze({ identity: spiffeId })
}
