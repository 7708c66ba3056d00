/**
 * Certificate issuing: `POST /v1/certificates` authenticates the caller (its current certificate over
 * mTLS, or a bootstrap token bound to one service), checks that its CSR asks for exactly the caller's own
 * SPIFFE ID, and signs the CSR's public key with the mesh's trust anchor for a short lifetime.
 */
import 'reflect-metadata'
import { createHash, createPrivateKey, randomBytes, timingSafeEqual, webcrypto } from 'node:crypto'
import type http from 'node:http'
import type https from 'node:https'
import * as x509 from '@peculiar/x509'
import { type CertificateRequest, type CertificateResponse, CONTROL_PLANE_SPIFFE_PATH, JSON_CONTENT_TYPE, SERVICE_NAME } from '@weft/agent'
import { type Clock, type Duration, parseDuration, WeftError } from '@weft/core'
import {
  createIdentity,
  describeCertificate,
  type Identity,
  issueCertificate,
  parseSpiffeId,
  serverTlsOptions,
  serviceSpiffeId,
  type TrustAnchor,
  verifyClientSocket,
} from '@weft/mtls'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)
const subtle = webcrypto.subtle as unknown as SubtleCrypto

export interface CertificateAuthorityOptions {
  /** The mesh's trust anchor (`createTrustAnchor` / `loadTrustAnchor` from `@weft/mtls`). Its key never leaves this process. */
  anchor: TrustAnchor
  /** Bootstrap tokens for first certificates: token → the one service it may get a certificate for. Default none. */
  bootstrapTokens?: Readonly<Record<string, string>> | undefined
  /** Lifetime of issued certificates. Default `24h`. */
  lifetime?: Duration | undefined
  /** DNS names on the control plane's own HTTPS certificate (agents check its SPIFFE ID, not these). Default `['localhost']`. */
  dnsNames?: string[] | undefined
}

export const CERTIFICATES_DEFAULTS = { lifetime: 24 * 3_600_000, dnsNames: ['localhost'], maxRequestBytes: 16 * 1024 } as const

export interface CertificateAuthority {
  /** HTTPS options for the control plane: its own certificate from the anchor; client certificates asked for, not required. */
  serverOptions(): https.ServerOptions
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>
  counts(): { issued: number; refused: number }
}

/** A bootstrap token as `authenticate` reads it from `authorization: Bearer <token>`: 1 to 512 printable ASCII characters, no spaces. */
const BOOTSTRAP_TOKEN = /^[\x21-\x7e]{1,512}$/

const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

/** `certificates.lifetime` in ms: a duration longer than 0 (a certificate of no lifetime is expired when issued). */
function certificateLifetime(value: Duration | undefined): number {
  let ms: number
  try {
    ms = parseDuration(value ?? CERTIFICATES_DEFAULTS.lifetime)
  } catch (err) {
    throw new WeftError('WEFT_INVALID_ARGUMENT', `createControlPlane: certificates.lifetime: ${(err as Error).message}`, { cause: err })
  }
  if (ms === 0)
    throw new WeftError(
      'WEFT_INVALID_ARGUMENT',
      'createControlPlane: certificates.lifetime must be longer than 0: it would issue expired certificates',
    )
  return ms
}

export async function createCertificateAuthority(options: CertificateAuthorityOptions, clock: Clock): Promise<CertificateAuthority> {
  const { anchor } = options
  if (anchor === undefined || typeof anchor.cert !== 'string' || typeof anchor.key !== 'string')
    throw new WeftError(
      'WEFT_INVALID_ARGUMENT',
      'createControlPlane: certificates.anchor must be a trust anchor ({ trustDomain, cert, key })',
    )
  checkBootstrapTokens(options.bootstrapTokens)
  const lifetime = certificateLifetime(options.lifetime)
  // tokens are compared as hashes, in constant time, so neither their length nor their prefix leaks
  const tokens = Object.entries(options.bootstrapTokens ?? {}).map(([token, service]) => ({ digest: sha256(token), service }))
  // the control plane's own certificate: a year, or up to a day before the anchor expires
  const daysLeft = Math.floor((anchor.notAfter.getTime() - Date.now()) / 86_400_000) - 1
  const own = await issueCertificate({
    anchor,
    spiffeId: `spiffe://${anchor.trustDomain}${CONTROL_PLANE_SPIFFE_PATH}`,
    lifetime: daysLeft >= 1 ? `${Math.min(365, daysLeft)}d` : lifetime,
    dnsNames: [...(options.dnsNames ?? CERTIFICATES_DEFAULTS.dnsNames)],
  })
  const identity: Identity = createIdentity(own)
  const issuer = new x509.X509Certificate(anchor.cert)
  const signingKey = await importSigningKey(anchor.key)
  let issued = 0
  let refused = 0

  const refuse = (res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}) => {
    refused++
    send(res, status, { error: { status, message } }, headers)
  }

  /** Who is asking: the SPIFFE ID its verified certificate proves, or the service its bootstrap token names. */
  function authenticate(req: http.IncomingMessage): { identity: string; how: 'mtls' | 'token' } | { status: number; message: string } {
    const verdict = verifyClientSocket(req.socket, [anchor.trustDomain])
    if (verdict.error !== undefined) return { status: 403, message: verdict.error.message }
    if (verdict.spiffeId !== undefined) return { identity: verdict.spiffeId, how: 'mtls' }
    const header = req.headers.authorization
    const m = header === undefined ? null : /^Bearer ([\x21-\x7e]{1,512})$/.exec(header)
    if (m === null)
      return { status: 401, message: 'authenticate with your current certificate (mTLS) or a bootstrap token (authorization: Bearer …)' }
    const digest = sha256(m[1] as string)
    let service: string | undefined
    for (const t of tokens) if (timingSafeEqual(t.digest, digest)) service = t.service
    if (service === undefined) return { status: 401, message: 'unknown bootstrap token' }
    return { identity: serviceSpiffeId(anchor.trustDomain, service), how: 'token' }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST') return refuse(res, 405, 'POST a CSR here', { allow: 'POST' })
    const caller = authenticate(req)
    if ('status' in caller) return refuse(res, caller.status, caller.message, caller.status === 401 ? { 'www-authenticate': 'Bearer' } : {})
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
    if (type !== JSON_CONTENT_TYPE) return refuse(res, 415, `send ${JSON_CONTENT_TYPE}`)
    let body: string
    try {
      body = await readBody(req, CERTIFICATES_DEFAULTS.maxRequestBytes)
    } catch (err) {
      return refuse(res, 413, (err as Error).message)
    }
    let csr: x509.Pkcs10CertificateRequest
    try {
      const request = JSON.parse(body) as Partial<CertificateRequest>
      if (typeof request?.csr !== 'string') throw new Error('the body must be { "csr": "<PEM>" }')
      csr = new x509.Pkcs10CertificateRequest(request.csr)
      if (!(await csr.verify())) throw new Error('the CSR signature does not verify')
    } catch (err) {
      return refuse(res, 400, `bad certificate request: ${(err as Error).message}`)
    }
    const uris = csr.extensions
      .filter((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension)
      .flatMap((e) => e.names.items.filter((n) => n.type === 'url').map((n) => n.value))
    if (uris.length !== 1) return refuse(res, 400, `the CSR must name exactly one URI SAN (your SPIFFE ID), it names ${uris.length}`)
    const asked = uris[0] as string
    if (asked !== caller.identity) return refuse(res, 403, `the CSR asks for ${asked}, but the caller is ${caller.identity}`)

    const now = clock.now()
    const notBefore = new Date(now - 60_000)
    const notAfter = new Date(Math.min(now + lifetime, anchor.notAfter.getTime()))
    let pem: string
    try {
      pem = await sign(csr, parseSpiffeId(asked).id, notBefore, notAfter)
    } catch (err) {
      return refuse(res, 400, `cannot issue for this CSR: ${(err as Error).message}`)
    }
    // what we hand out must pass the same SVID rules every weft peer applies
    const problems = describeCertificate(pem).svidProblems
    if (problems.length > 0) return refuse(res, 400, `the certificate for this CSR would break the SVID rules: ${problems.join('; ')}`)
    issued++
    const answer: CertificateResponse = {
      cert: pem,
      bundle: anchor.cert,
      identity: asked,
      notBefore: notBefore.getTime(),
      notAfter: notAfter.getTime(),
    }
    send(res, 200, answer)
  }

  async function sign(csr: x509.Pkcs10CertificateRequest, spiffeId: string, notBefore: Date, notAfter: Date): Promise<string> {
    const publicKey = await csr.publicKey.export()
    const alg = publicKey.algorithm as RsaHashedKeyAlgorithm | EcKeyAlgorithm
    const usage = x509.KeyUsageFlags.digitalSignature | (alg.name.startsWith('RSA') ? x509.KeyUsageFlags.keyEncipherment : 0)
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: 'O=weft',
      issuer: issuer.subject,
      publicKey,
      signingKey,
      notBefore,
      notAfter,
      signingAlgorithm:
        signingKey.algorithm.name === 'ECDSA' ? ({ name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams) : { name: signingKey.algorithm.name },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(usage, true),
        new x509.ExtendedKeyUsageExtension([EKU_SERVER_AUTH, EKU_CLIENT_AUTH]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], false),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
      ],
    })
    return cert.toString('pem')
  }

  return {
    serverOptions: () => ({ ...serverTlsOptions(identity, 'PERMISSIVE') }),
    handle,
    counts: () => ({ issued, refused }),
  }
}

/**
 * Refuses bootstrap tokens no caller could use: not an object of token → service name, a token an
 * `authorization: Bearer` header cannot carry, a service that is not a name. An entry is named by its
 * place (`entry 2`), never by its token: the token is a secret, and messages end up in logs.
 */
function checkBootstrapTokens(tokens: unknown): void {
  const bad = (problem: string) =>
    new WeftError('WEFT_INVALID_ARGUMENT', `createControlPlane: certificates.bootstrapTokens: ${problem}`, {
      details: { option: 'certificates.bootstrapTokens', problem },
    })
  if (tokens === undefined) return
  if (typeof tokens !== 'object' || tokens === null || Array.isArray(tokens)) throw bad('must be an object { "<token>": "<service>" }')
  Object.entries(tokens).forEach(([token, service], i) => {
    if (!BOOTSTRAP_TOKEN.test(token))
      throw bad(`entry ${i + 1}: the token must be 1 to 512 printable ASCII characters without spaces (what authorization: Bearer carries)`)
    if (typeof service !== 'string' || !SERVICE_NAME.test(service))
      throw bad(`entry ${i + 1}: the service must be a service name, got ${shown(service)}`)
  })
}

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 61)}...` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value)
  return Array.isArray(value) ? 'a list' : `a ${typeof value}`
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

function serial(): string {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0] as number) & 0x7f
  return bytes.toString('hex')
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  const key = createPrivateKey(pem)
  const der = key.export({ format: 'der', type: 'pkcs8' })
  const curve = key.asymmetricKeyDetails?.namedCurve
  const alg =
    key.asymmetricKeyType === 'ec'
      ? { name: 'ECDSA', namedCurve: curve === 'secp384r1' ? 'P-384' : 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  return subtle.importKey('pkcs8', der, alg, false, ['sign'])
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (declared > limit) return reject(new Error(`a certificate request is at most ${limit} bytes`))
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) {
        req.destroy()
        reject(new Error(`a certificate request is at most ${limit} bytes`))
      } else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function send(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
  if (res.writableEnded || res.destroyed) return
  const body = JSON.stringify(value)
  res
    .writeHead(status, { ...headers, 'content-type': `${JSON_CONTENT_TYPE}; charset=utf-8`, 'content-length': Buffer.byteLength(body) })
    .end(body)
}
