/** TLS options for an inbound port: our certificate, client certificates requested and checked against the bundle, TLS 1.2 at least. */
import type { TlsOptions } from 'node:tls'
import type { MtlsMode } from '@weft/policy'
import type { Identity } from './identity.js'
import { MIN_TLS_VERSION, TLS_CIPHERS } from './identity.js'

/** How a port accepts traffic: mTLS only, mTLS and plaintext side by side, or plaintext only (policy `services.<name>.mtls`). */
export type { MtlsMode }

/**
 * Options for `https.createServer` / `tls.createServer`. In `STRICT` a client without a
 * certificate, or with one that does not chain to the bundle, fails the handshake; in
 * `PERMISSIVE` it connects without an identity (and a bad certificate is refused after the
 * handshake by weft's server). Pair with `peerOf(req.socket)`, which applies the SVID rules.
 */
export function serverTlsOptions(identity: Identity, mode: Exclude<MtlsMode, 'DISABLE'> = 'STRICT'): TlsOptions {
  return {
    cert: identity.cert,
    key: identity.key,
    ca: identity.bundle,
    requestCert: true,
    rejectUnauthorized: mode === 'STRICT',
    minVersion: MIN_TLS_VERSION,
    // our order, not the client's: AES-128-GCM first (see TLS_CIPHERS)
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
    ALPNProtocols: ['http/1.1'],
  }
}

/** The part of the options that changes with the certificate, for `server.setSecureContext`. */
export function secureContextOptions(identity: Identity): TlsOptions {
  return {
    cert: identity.cert,
    key: identity.key,
    ca: identity.bundle,
    minVersion: MIN_TLS_VERSION,
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
  }
}
