/**
 * What a certificate says, read with a real X.509 parser, and the X.509-SVID rules a leaf must
 * keep. OpenSSL (so Node's TLS) accepts leaves these rules forbid (CA:TRUE, keyCertSign, no SAN at
 * all, weak RSA), and Node's own `subjectAltName` is an escaped string and its `keyUsage` lists
 * only extended usages, so weft reads the DER itself.
 */
import { X509Certificate as NodeX509 } from 'node:crypto'
import { WeftError } from '@weft/core'
import { spiffeIdProblem, trustDomainOf } from './spiffe-id.js'
import { pemBlocks, type X509, x509 } from './x509.js'

/** A certificate's facts, as `weft certs show` prints them. */
export interface CertificateDescription {
  /** The SPIFFE ID when the certificate has exactly one URI SAN and it is a valid ID, else `undefined`. */
  readonly spiffeId: string | undefined
  readonly trustDomain: string | undefined
  /** Every URI SAN, as written (never split on commas). */
  readonly uris: readonly string[]
  readonly dnsNames: readonly string[]
  readonly ipAddresses: readonly string[]
  readonly subject: string
  readonly issuer: string
  /** Upper-case hex. */
  readonly serialNumber: string
  readonly notBefore: Date
  readonly notAfter: Date
  /** X.509 version: 1, 2 or 3. */
  readonly version: number
  /** Basic constraints `CA:TRUE`. */
  readonly isCA: boolean
  /** Key usage bits by name (`digitalSignature`, `keyCertSign`, …); `undefined` when the extension is absent. */
  readonly keyUsage: readonly string[] | undefined
  /** Extended key usage OIDs by name where known (`serverAuth`, `clientAuth`). */
  readonly extendedKeyUsage: readonly string[]
  /** `ec P-256`, `rsa 2048`, `ed25519`, … */
  readonly publicKey: string
  /** SHA-256 fingerprint, colon-separated upper-case hex (as Node prints it). */
  readonly fingerprint256: string
  /** The X.509-SVID rules this certificate breaks as a workload (leaf) certificate; empty when none. */
  readonly svidProblems: readonly string[]
}

/** KeyUsage bits by name, in the library's order; made with the library, on first use. */
let keyUsageNames: readonly [number, string][] | undefined
function keyUsageTable(lib: typeof X509): readonly [number, string][] {
  const flags = lib.KeyUsageFlags
  keyUsageNames ??= (
    [
      'digitalSignature',
      'nonRepudiation',
      'keyEncipherment',
      'dataEncipherment',
      'keyAgreement',
      'keyCertSign',
      'cRLSign',
      'encipherOnly',
      'decipherOnly',
    ] as const
  ).map((name) => [flags[name], name])
  return keyUsageNames
}
const EKU_NAMES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'ocspSigning',
}
/** Smallest RSA modulus accepted for a workload key. */
export const MIN_RSA_BITS = 2048
const EC_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1'])
const CURVE_NAMES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }

/**
 * Reads a certificate: PEM text (the first certificate in it) or DER bytes. Throws
 * `WEFT_CERTIFICATE_INVALID` when it cannot be parsed.
 */
export function describeCertificate(input: string | Uint8Array): CertificateDescription {
  const der = toDer(input)
  const lib = x509()
  let cert: X509.X509Certificate
  let node: NodeX509
  try {
    cert = new lib.X509Certificate(der as Uint8Array<ArrayBuffer>)
    node = new NodeX509(der)
  } catch (err) {
    throw new WeftError('WEFT_CERTIFICATE_INVALID', `not a parseable X.509 certificate: ${(err as Error).message}`, { cause: err })
  }

  const uris: string[] = []
  const dnsNames: string[] = []
  const ipAddresses: string[] = []
  for (const san of cert.getExtensions(lib.SubjectAlternativeNameExtension)) {
    for (const name of san.names.items) {
      if (name.type === 'url') uris.push(name.value)
      else if (name.type === 'dns') dnsNames.push(name.value)
      else if (name.type === 'ip') ipAddresses.push(name.value)
    }
  }
  const basic = cert.getExtension(lib.BasicConstraintsExtension)
  const ku = cert.getExtension(lib.KeyUsagesExtension)
  const keyUsage =
    ku === null
      ? undefined
      : keyUsageTable(lib)
          .filter(([bit]) => (ku.usages & bit) !== 0)
          .map(([, name]) => name)
  const eku = cert.getExtension(lib.ExtendedKeyUsageExtension)
  const extendedKeyUsage = eku === null ? [] : eku.usages.map((u) => EKU_NAMES[String(u)] ?? String(u))
  // the ASN.1 model is the parser's own; X509Certificate keeps it as a protected field
  const rawVersion = (cert as unknown as { asn: { tbsCertificate: { version?: number } } }).asn.tbsCertificate.version
  const version = (rawVersion ?? 0) + 1

  const details = node.publicKey.asymmetricKeyDetails ?? {}
  const keyType = node.publicKey.asymmetricKeyType ?? 'unknown'
  const publicKey =
    keyType === 'rsa' || keyType === 'rsa-pss'
      ? `${keyType} ${details.modulusLength ?? '?'}`
      : keyType === 'ec'
        ? `ec ${CURVE_NAMES[details.namedCurve ?? ''] ?? details.namedCurve ?? '?'}`
        : keyType

  const facts = { uris, isCA: basic?.ca === true, keyUsage, version, keyType, details }
  const svidProblems = leafProblems(facts)
  const only = uris.length === 1 ? (uris[0] as string) : undefined
  const spiffeId = only !== undefined && spiffeIdProblem(only) === undefined ? only : undefined
  return {
    spiffeId,
    trustDomain: spiffeId === undefined ? undefined : trustDomainOf(spiffeId),
    uris,
    dnsNames,
    ipAddresses,
    subject: node.subject.replace(/\n/g, ', '),
    issuer: node.issuer.replace(/\n/g, ', '),
    serialNumber: node.serialNumber.toUpperCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    version,
    isCA: facts.isCA,
    keyUsage,
    extendedKeyUsage,
    publicKey,
    fingerprint256: node.fingerprint256,
    svidProblems,
  }
}

interface LeafFacts {
  uris: readonly string[]
  isCA: boolean
  keyUsage: readonly string[] | undefined
  version: number
  keyType: string
  details: { modulusLength?: number; namedCurve?: string }
}

/** The X.509-SVID leaf rules broken, in the words of the spec (and go-spiffe). */
function leafProblems(f: LeafFacts): string[] {
  const problems: string[] = []
  if (f.version !== 3) problems.push(`X.509 v${f.version} certificate: an SVID must be X.509 v3`)
  if (f.uris.length === 0) problems.push('certificate contains no URI SAN (a SPIFFE ID is never read from the subject CN or a DNS name)')
  else if (f.uris.length > 1) problems.push(`certificate contains ${f.uris.length} URI SANs: an X.509-SVID has exactly one`)
  else {
    const problem = spiffeIdProblem(f.uris[0] as string)
    if (problem !== undefined)
      problems.push(`URI SAN ${JSON.stringify((f.uris[0] as string).slice(0, 120))} is not a valid SPIFFE ID: ${problem}`)
  }
  if (f.isCA) problems.push('leaf certificate must not have CA flag set to true')
  if (f.keyUsage === undefined || !f.keyUsage.includes('digitalSignature'))
    problems.push("leaf certificate must have 'digitalSignature' set as key usage")
  if (f.keyUsage?.includes('keyCertSign')) problems.push("leaf certificate must not have 'keyCertSign' set as key usage")
  if (f.keyUsage?.includes('cRLSign')) problems.push("leaf certificate must not have 'cRLSign' set as key usage")
  if (f.keyType === 'rsa' || f.keyType === 'rsa-pss') {
    const bits = f.details.modulusLength ?? 0
    if (bits < MIN_RSA_BITS) problems.push(`RSA key of ${bits} bits is too weak: at least ${MIN_RSA_BITS} required`)
  } else if (f.keyType === 'ec') {
    if (!EC_CURVES.has(f.details.namedCurve ?? ''))
      problems.push(`EC curve ${f.details.namedCurve ?? 'unknown'} is not allowed: use P-256, P-384 or P-521`)
  } else if (f.keyType !== 'ed25519') {
    problems.push(`${f.keyType} keys are not allowed`)
  }
  return problems
}

/** DER of the first certificate of PEM text, or the bytes as they are. */
export function toDer(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') return input
  const block = pemBlocks(input)[0]
  if (block === undefined) throw new WeftError('WEFT_CERTIFICATE_INVALID', 'no PEM "CERTIFICATE" block found')
  const b64 = block.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '')
  return Buffer.from(b64, 'base64')
}
