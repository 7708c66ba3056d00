/**
 * This process's identity: its certificate (an X.509-SVID, with any intermediates), its private
 * key and the trust bundle, checked together before anything uses them.
 */
import { createPrivateKey, type KeyObject, X509Certificate as NodeX509 } from 'node:crypto'
import { createSecureContext, DEFAULT_CIPHERS, type SecureContext } from 'node:tls'
import { WeftError } from '@weft/core'
import { describeCertificate } from './certificate.js'
import { trustDomainOf } from './spiffe-id.js'
import { pemBlocks } from './x509.js'

/** PEM texts: what `createMesh({ identity })` and `weft certs issue` deal in. */
export interface IdentityPems {
  /** The workload certificate, then any intermediates. */
  cert: string
  /** Its private key (PKCS#8, SEC1 or PKCS#1 PEM). */
  key: string
  /** The trust anchors peers are verified against (one or more CA certificates). */
  bundle: string
}

/** A checked identity. Immutable: a rotation makes a new one. */
export interface Identity {
  /** `spiffe://weft.local/ns/default/sa/checkout` */
  readonly spiffeId: string
  /** `weft.local`: the trust domain peers are expected in unless policy says otherwise. */
  readonly trustDomain: string
  readonly cert: string
  readonly key: string
  readonly bundle: string
  readonly notBefore: Date
  readonly notAfter: Date
  /** Upper-case hex serial of the leaf. */
  readonly serialNumber: string
  /** A TLS context for outbound connections (our certificate, the bundle as the only trust), built once. */
  readonly clientContext: SecureContext
}

/** The lowest TLS version weft speaks; TLS 1.3 is preferred whenever both sides have it. */
export const MIN_TLS_VERSION = 'TLSv1.2'

/**
 * Node's default cipher suites, the same set, with TLS 1.3's AES-128-GCM first (Node puts
 * AES-256-GCM first): both are TLS 1.3 suites every implementation must offer, and with AES-NI
 * AES-128 does 10 rounds a block instead of 14. Both weft sides prefer it; a peer that offers only
 * the others still gets them.
 */
export const TLS_CIPHERS = ['TLS_AES_128_GCM_SHA256', ...DEFAULT_CIPHERS.split(':').filter((c) => c !== 'TLS_AES_128_GCM_SHA256')].join(':')

/** Where the PEMs came from, so errors can name the file. */
export interface IdentityFiles {
  cert?: string
  key?: string
  bundle?: string
}

/**
 * Checks PEMs and builds an identity. Throws `WEFT_CERTIFICATE_INVALID` naming the file and the
 * rule: unparseable PEM, a key that does not match the certificate, a leaf that breaks the
 * X.509-SVID rules, a certificate expired or not yet valid at `now`, or one that does not chain
 * to the bundle.
 */
export function createIdentity(pems: IdentityPems, options: { now?: number; files?: IdentityFiles } = {}): Identity {
  const files = options.files ?? {}
  const now = options.now ?? Date.now()
  const certName = files.cert ?? 'cert'
  const keyName = files.key ?? 'key'
  const bundleName = files.bundle ?? 'bundle'

  const chain = parseCertificates(pems.cert, certName)
  const leaf = chain[0] as NodeX509
  const anchors = parseCertificates(pems.bundle, bundleName)
  let key: KeyObject
  try {
    key = createPrivateKey(pems.key)
  } catch (err) {
    throw invalid(`${keyName}: not a readable private key: ${(err as Error).message}`, keyName, err)
  }
  if (!leaf.checkPrivateKey(key)) {
    throw invalid(`${keyName} does not match the certificate in ${certName} (ERR_OSSL_X509_KEY_VALUES_MISMATCH)`, keyName)
  }

  const d = describeCertificate(leaf.raw)
  if (d.svidProblems.length > 0 || d.spiffeId === undefined) {
    throw invalid(`${certName} is not a valid X.509-SVID: ${d.svidProblems.join('; ')}`, certName)
  }
  if (now < d.notBefore.getTime()) throw invalid(`${certName} is not yet valid: valid from ${d.notBefore.toISOString()}`, certName)
  if (now > d.notAfter.getTime()) throw invalid(`${certName} has expired: valid until ${d.notAfter.toISOString()}`, certName)
  if (!chainsTo(chain, anchors)) {
    throw invalid(`${certName} (${d.spiffeId}) does not chain to any certificate in ${bundleName}`, certName)
  }

  let clientContext: SecureContext
  try {
    clientContext = createSecureContext({
      cert: pems.cert,
      key: pems.key,
      ca: pems.bundle,
      minVersion: MIN_TLS_VERSION,
      ciphers: TLS_CIPHERS,
    })
  } catch (err) {
    throw invalid(`${certName}/${keyName}: OpenSSL refused them: ${(err as Error).message}`, certName, err)
  }

  return Object.freeze({
    spiffeId: d.spiffeId,
    trustDomain: trustDomainOf(d.spiffeId),
    cert: pems.cert,
    key: pems.key,
    bundle: pems.bundle,
    notBefore: d.notBefore,
    notAfter: d.notAfter,
    serialNumber: d.serialNumber,
    clientContext,
  })
}

function parseCertificates(text: string, name: string): NodeX509[] {
  if (typeof text !== 'string') throw invalid(`${name}: expected PEM text`, name)
  const blocks = pemBlocks(text)
  if (blocks.length === 0) throw invalid(`${name}: no PEM "CERTIFICATE" block found`, name)
  return blocks.map((block, i) => {
    try {
      return new NodeX509(block)
    } catch (err) {
      throw invalid(`${name}: certificate #${i + 1} is not parseable: ${(err as Error).message}`, name, err)
    }
  })
}

/** True when the leaf, through the intermediates after it, is signed by one of the anchors. */
function chainsTo(chain: readonly NodeX509[], anchors: readonly NodeX509[]): boolean {
  let current = chain[0] as NodeX509
  const intermediates = chain.slice(1)
  for (let depth = 0; depth <= intermediates.length; depth++) {
    for (const anchor of anchors) if (signedBy(current, anchor)) return true
    const next = intermediates.find((c) => signedBy(current, c))
    if (next === undefined) return false
    current = next
  }
  return false
}

function signedBy(cert: NodeX509, issuer: NodeX509): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey)
  } catch {
    return false
  }
}

function invalid(message: string, file: string, cause?: unknown): WeftError {
  return new WeftError('WEFT_CERTIFICATE_INVALID', message, { cause, details: { file } })
}
