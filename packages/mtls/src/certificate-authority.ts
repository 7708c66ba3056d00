/**
 * A development certificate authority: a trust anchor for a trust domain, and X.509-SVIDs issued
 * from it with a SPIFFE URI SAN and a chosen lifetime. What `weft certs` and the tests use; built
 * on @peculiar/x509 (WebCrypto), not for production PKI.
 */
import { createPrivateKey, randomBytes } from 'node:crypto'
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Duration, parseDuration, WeftError } from '@weft/core'
import { describeCertificate } from './certificate.js'
import type { IdentityPems } from './identity.js'
import { IDENTITY_FILES } from './identity-source.js'
import { parseSpiffeId, trustDomainId } from './spiffe-id.js'
import { x509 as loadX509, subtle, toPem } from './x509.js'

/** Key algorithms a certificate can be issued with. ECDSA P-256 is the default: fast and small. */
export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096'

/** A lifetime: a duration (`24h`, `90m`, milliseconds) or whole days (`90d`). */
export type Lifetime = Duration

/** A trust anchor: the root certificate of a trust domain and its private key, as PEM. */
export interface TrustAnchor {
  readonly trustDomain: string
  /** The anchor's certificate: what goes in every `bundle.pem`. */
  readonly cert: string
  /** Its private key (PKCS#8 PEM). Keep it out of workloads. */
  readonly key: string
  readonly notAfter: Date
}

export interface TrustAnchorOptions {
  /** `weft.local` */
  trustDomain: string
  /** Default `365d`. */
  lifetime?: Lifetime
  /** Default `ec-p256`. */
  keyType?: KeyType
  /** Start of validity. Default: one minute ago (room for clock skew). */
  notBefore?: Date
}

export interface IssueOptions {
  /** The anchor that signs. */
  anchor: TrustAnchor
  /** The workload's identity; must be in the anchor's trust domain. */
  spiffeId: string
  /** Default `24h`. */
  lifetime?: Lifetime
  /** Start of validity. Default: one minute ago (room for clock skew). */
  notBefore?: Date
  /** Default `ec-p256`. */
  keyType?: KeyType
  /** DNS names to add beside the SPIFFE ID, for callers outside the mesh. weft never reads them. Default none. */
  dnsNames?: string[]
}

/** An issued certificate: `{ cert, key, bundle }` is what `createMesh({ identity })` takes. */
export interface IssuedCertificate extends IdentityPems {
  readonly spiffeId: string
  readonly notBefore: Date
  readonly notAfter: Date
  readonly serialNumber: string
}

export const CERTIFICATE_AUTHORITY_DEFAULTS = { anchorLifetime: '365d', lifetime: '24h', keyType: 'ec-p256', backdate: 60_000 } as const

const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const MAX_LIFETIME_DAYS = 36_500

/** Milliseconds in a lifetime (`90d`, `24h`, `30m`, or a number of milliseconds). */
export function parseLifetime(input: Lifetime): number {
  const days = typeof input === 'string' ? /^(\d{1,5})d$/.exec(input) : null
  const ms = days !== null ? Number(days[1]) * 86_400_000 : tryDuration(input)
  if (!(ms > 0) || ms > MAX_LIFETIME_DAYS * 86_400_000) {
    throw new WeftError('WEFT_INVALID_ARGUMENT', `invalid lifetime ${JSON.stringify(input)}: use a positive duration like 24h, 90m or 30d`)
  }
  return ms
}

function tryDuration(input: Lifetime): number {
  try {
    return parseDuration(input)
  } catch {
    return Number.NaN
  }
}

/** Creates a self-signed trust anchor for a trust domain. */
export async function createTrustAnchor(options: TrustAnchorOptions): Promise<TrustAnchor> {
  const x509 = loadX509()
  const tdId = trustDomainId(options.trustDomain)
  const lifetime = parseLifetime(options.lifetime ?? CERTIFICATE_AUTHORITY_DEFAULTS.anchorLifetime)
  const keyType = options.keyType ?? CERTIFICATE_AUTHORITY_DEFAULTS.keyType
  const keys = await generateKeys(keyType)
  const notBefore = options.notBefore ?? new Date(Date.now() - CERTIFICATE_AUTHORITY_DEFAULTS.backdate)
  const notAfter = new Date(notBefore.getTime() + lifetime)
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${options.trustDomain} trust anchor, O=weft`,
    keys,
    notBefore,
    notAfter,
    signingAlgorithm: signingAlgorithm(keyType),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: tdId }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  return Object.freeze({
    trustDomain: options.trustDomain,
    cert: withNewline(cert.toString('pem')),
    key: await exportKey(keys.privateKey),
    notAfter,
  })
}

/** Reads a trust anchor from its PEMs (what `weft certs anchor` wrote). */
export function loadTrustAnchor(pems: { cert: string; key: string }): TrustAnchor {
  const d = describeCertificate(pems.cert)
  const uri = d.uris[0]
  if (!d.isCA || uri === undefined) {
    throw new WeftError(
      'WEFT_CERTIFICATE_INVALID',
      'not a weft trust anchor: it must be a CA certificate with the trust domain as its URI SAN',
    )
  }
  try {
    createPrivateKey(pems.key)
  } catch (err) {
    throw new WeftError('WEFT_CERTIFICATE_INVALID', `trust anchor key is not readable: ${(err as Error).message}`, { cause: err })
  }
  const td = parseSpiffeId(uri, { requirePath: false }).trustDomain
  return Object.freeze({ trustDomain: td, cert: pems.cert, key: pems.key, notAfter: d.notAfter })
}

/** Issues an X.509-SVID for `spiffeId`, signed by the anchor: one URI SAN, not a CA, digitalSignature, server and client auth. */
export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const x509 = loadX509()
  const { anchor } = options
  const id = parseSpiffeId(options.spiffeId)
  if (id.trustDomain !== anchor.trustDomain) {
    throw new WeftError('WEFT_INVALID_ARGUMENT', `${id.id} is not in the anchor's trust domain ${anchor.trustDomain}`)
  }
  const lifetime = parseLifetime(options.lifetime ?? CERTIFICATE_AUTHORITY_DEFAULTS.lifetime)
  const keyType = options.keyType ?? CERTIFICATE_AUTHORITY_DEFAULTS.keyType
  const notBefore = options.notBefore ?? new Date(Date.now() - CERTIFICATE_AUTHORITY_DEFAULTS.backdate)
  const notAfter = new Date(notBefore.getTime() + lifetime)
  if (notAfter > anchor.notAfter) {
    throw new WeftError(
      'WEFT_INVALID_ARGUMENT',
      `a certificate valid until ${notAfter.toISOString()} would outlive its anchor (${anchor.notAfter.toISOString()})`,
    )
  }
  const issuer = new x509.X509Certificate(anchor.cert)
  const signingKey = await importKey(anchor.key)
  const keys = await generateKeys(keyType)
  const usage = x509.KeyUsageFlags.digitalSignature | (keyType.startsWith('rsa') ? x509.KeyUsageFlags.keyEncipherment : 0)
  const sans = [{ type: 'url' as const, value: id.id }, ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value }))]
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'O=weft',
    issuer: issuer.subject,
    publicKey: keys.publicKey,
    signingKey,
    notBefore,
    notAfter,
    signingAlgorithm: signingAlgorithmOf(signingKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension([EKU_SERVER_AUTH, EKU_CLIENT_AUTH]),
      new x509.SubjectAlternativeNameExtension(sans, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
    ],
  })
  const pem = withNewline(cert.toString('pem'))
  return Object.freeze({
    spiffeId: id.id,
    cert: pem,
    key: await exportKey(keys.privateKey),
    bundle: withNewline(anchor.cert),
    notBefore,
    notAfter,
    serialNumber: describeCertificate(pem).serialNumber,
  })
}

/**
 * Writes `cert.pem`, `key.pem` (mode 0600) and `bundle.pem` into `dir`, each atomically (write, then
 * rename), so a watching mesh never reads half a file. The key is written before the certificate.
 */
export async function writeIdentity(dir: string, pems: IdentityPems): Promise<void> {
  await mkdir(dir, { recursive: true })
  const put = async (name: string, text: string, mode: number) => {
    const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
    await writeFile(tmp, text, { mode })
    await chmod(tmp, mode)
    await rename(tmp, join(dir, name))
  }
  await put(IDENTITY_FILES.bundle, pems.bundle, 0o644)
  await put(IDENTITY_FILES.key, pems.key, 0o600)
  await put(IDENTITY_FILES.cert, pems.cert, 0o644)
}

type KeyAlgorithm = EcKeyGenParams | RsaHashedKeyGenParams

function keyAlgorithm(type: KeyType): KeyAlgorithm {
  switch (type) {
    case 'ec-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' }
    case 'ec-p384':
      return { name: 'ECDSA', namedCurve: 'P-384' }
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: Number(type.slice(4)), publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
    default:
      throw new WeftError(
        'WEFT_INVALID_ARGUMENT',
        `unknown key type ${JSON.stringify(type)}: use ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096`,
      )
  }
}

function signingAlgorithm(type: KeyType): Algorithm | EcdsaParams {
  if (type === 'ec-p384') return { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams
  if (type === 'ec-p256') return { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams
  return { name: 'RSASSA-PKCS1-v1_5' }
}

function signingAlgorithmOf(key: CryptoKey): Algorithm | EcdsaParams {
  const alg = key.algorithm as EcKeyAlgorithm
  if (alg.name === 'ECDSA') return { name: 'ECDSA', hash: alg.namedCurve === 'P-384' ? 'SHA-384' : 'SHA-256' } as EcdsaParams
  return { name: alg.name }
}

async function generateKeys(type: KeyType): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(keyAlgorithm(type), true, ['sign', 'verify'])) as CryptoKeyPair
}

async function exportKey(key: CryptoKey): Promise<string> {
  return toPem(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY')
}

/** Imports a PEM private key (PKCS#8, SEC1 or PKCS#1) as a WebCrypto signing key. */
async function importKey(pem: string): Promise<CryptoKey> {
  const key = createPrivateKey(pem)
  const der = key.export({ format: 'der', type: 'pkcs8' })
  const details = key.asymmetricKeyDetails ?? {}
  const alg =
    key.asymmetricKeyType === 'ec'
      ? { name: 'ECDSA', namedCurve: details.namedCurve === 'secp384r1' ? 'P-384' : 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  return subtle.importKey('pkcs8', der, alg, false, ['sign'])
}

/** PEM files end with a newline, so that bundles can be concatenated. */
function withNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`
}

/** A random positive 128-bit serial number, hex. */
function serial(): string {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0] as number) & 0x7f
  return bytes.toString('hex')
}
