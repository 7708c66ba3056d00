/** Test helpers: real certificates minted per test (ECDSA P-256), hostile ones included, and real servers on 127.0.0.1. */
import { createPrivateKey, webcrypto } from 'node:crypto'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { onTestFinished } from 'vitest'
import { createTrustAnchor, type IssuedCertificate, issueCertificate, type TrustAnchor } from '../src/index.js'
import { x509 as loadX509, type X509 } from '../src/x509.js'

const x509 = loadX509()

export const TD = 'weft.local'
export const id = (service: string, ns = 'default', td = TD) => `spiffe://${td}/ns/${ns}/sa/${service}`

const anchors = new Map<string, Promise<TrustAnchor>>()

/** One trust anchor per trust domain per test file (minting is cheap, but there is no need). */
export function anchorFor(trustDomain = TD): Promise<TrustAnchor> {
  let a = anchors.get(trustDomain)
  if (a === undefined) anchors.set(trustDomain, (a = createTrustAnchor({ trustDomain })))
  return a
}

/** A valid SVID for a service in the default namespace. */
export async function svid(service: string, options: { trustDomain?: string; ns?: string; lifetime?: string; notBefore?: Date } = {}) {
  const anchor = await anchorFor(options.trustDomain)
  return issueCertificate({
    anchor,
    spiffeId: id(service, options.ns, anchor.trustDomain),
    lifetime: options.lifetime,
    notBefore: options.notBefore,
  })
}

export interface CraftOptions {
  /** URI SANs (default: none). */
  uris?: string[]
  dns?: string[]
  ips?: string[]
  /** No SAN extension at all. */
  noSan?: boolean
  subject?: string
  ca?: boolean
  keyUsage?: number
  noKeyUsage?: boolean
  notBefore?: Date
  notAfter?: Date
  /** RSA modulus bits instead of EC P-256. */
  rsaBits?: number
}

/**
 * A certificate signed by `anchor` with exactly the properties asked for, to feed weft what a bad
 * or careless CA would issue. Returns PEMs shaped like an identity.
 */
export async function craft(anchor: TrustAnchor, o: CraftOptions): Promise<IssuedCertificate> {
  const subtle = webcrypto.subtle as unknown as SubtleCrypto
  const alg =
    o.rsaBits === undefined
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: o.rsaBits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
  const keys = (await subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair
  const anchorKey = createPrivateKey(anchor.key).export({ format: 'der', type: 'pkcs8' })
  const signingKey = await subtle.importKey('pkcs8', anchorKey, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  const issuer = new x509.X509Certificate(anchor.cert)
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(o.ca ?? false, undefined, true),
    new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']),
  ]
  if (!o.noKeyUsage) extensions.push(new x509.KeyUsagesExtension(o.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true))
  if (!o.noSan) {
    const names = [
      ...(o.uris ?? []).map((value) => ({ type: 'url' as const, value })),
      ...(o.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ]
    extensions.push(new x509.SubjectAlternativeNameExtension(names))
  }
  const notBefore = o.notBefore ?? new Date(Date.now() - 60_000)
  const notAfter = o.notAfter ?? new Date(Date.now() + 3_600_000)
  const cert = await x509.X509CertificateGenerator.create({
    subject: o.subject ?? 'O=weft',
    issuer: issuer.subject,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    notBefore,
    notAfter,
    extensions,
  })
  const pk = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey)).toString('base64')
  const key = `-----BEGIN PRIVATE KEY-----\n${pk.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`
  return {
    spiffeId: o.uris?.[0] ?? '',
    cert: `${cert.toString('pem')}\n`,
    key,
    bundle: anchor.cert,
    notBefore,
    notAfter,
    serialNumber: cert.serialNumber,
  }
}

/** Listens on 127.0.0.1:0 and closes the server (and its connections) when the test ends. */
export async function listen<S extends Server>(server: S): Promise<{ server: S; port: number; url: string }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.()
        server.close(() => resolve())
      }),
  )
  const port = (server.address() as AddressInfo).port
  return { server, port, url: `https://127.0.0.1:${port}` }
}

/** Resolves with the next value of an event-style callback. */
export function nextEvent<T>(subscribe: (fn: (value: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((value) => {
      off()
      resolve(value)
    })
  })
}
