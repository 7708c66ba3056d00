/**
 * The agent's certificate half: gets a first certificate from the control plane with a bootstrap token,
 * then renews it over mTLS (with the certificate itself) at half its lifetime. The key is made here and
 * never leaves the process; the control plane signs a CSR. Certificates land in a folder (`cert.pem`,
 * `key.pem`, `bundle.pem`, each written atomically) that `createMesh({ identity: { dir } })` watches.
 */
import { webcrypto } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Clock, WeftError } from '@weft/core'
import {
  createIdentity,
  IDENTITY_FILES,
  type Identity,
  type IdentityPems,
  x509 as loadX509,
  serviceSpiffeId,
  writeIdentity,
} from '@weft/mtls'
import type { Backoff } from './backoff.js'
import type { HttpRequest } from './http-request.js'
import { exchange } from './http-request.js'
import { CERTIFICATES_PATH, type CertificateResponse, CONTROL_PLANE_SPIFFE_PATH, JSON_CONTENT_TYPE } from './protocol.js'

const subtle = webcrypto.subtle as unknown as SubtleCrypto

export interface AgentIdentityOptions {
  /** The folder for `cert.pem`, `key.pem` and `bundle.pem`; point `createMesh({ identity: { dir } })` at the same one. */
  dir: string
  /** The SPIFFE ID to ask for. Default `spiffe://<trustDomain>/ns/default/sa/<service>`. */
  spiffeId?: string | undefined
  /** The trust domain, when neither `spiffeId` nor a certificate in `dir` says it. Default `weft.local`. */
  trustDomain?: string | undefined
  /** A bootstrap token for the first certificate (when `dir` holds no valid one). */
  token?: string | undefined
  /** Renew when this fraction of the lifetime has passed. Default `0.5`. */
  renewAt?: number | undefined
  /** Called with every new certificate after it is written (for an identity held in memory: `source.update(pems)`). */
  onCertificate?: ((pems: IdentityPems) => unknown) | undefined
}

export const IDENTITY_DEFAULTS = { trustDomain: 'weft.local', renewAt: 0.5 } as const

export interface CertificateStatus {
  identity: string | undefined
  /** Epoch ms. */
  notAfter: number | undefined
  /** Epoch ms of the next renewal. */
  renewAt: number | undefined
  /** Certificates obtained by this agent. */
  obtained: number
  lastError: { at: number; message: string } | undefined
}

export interface KeeperContext {
  service: string
  sources: () => URL
  nextSource: () => void
  clock: Clock
  backoff: Backoff
  tls: { ca?: string | undefined } | undefined
  requestTimeout: number
  agent: HttpRequest['agent']
  signal: AbortSignal
  warn(message: string): void
}

/** Keeps a valid certificate in the folder: obtains one, renews it, reports. */
export class CertificateKeeper {
  readonly #o: AgentIdentityOptions & { renewAt: number }
  readonly #c: KeeperContext
  readonly #spiffeId: string
  #identity: Identity | undefined
  #timer: { cancel(): void } | undefined
  #status: CertificateStatus = { identity: undefined, notAfter: undefined, renewAt: undefined, obtained: 0, lastError: undefined }

  constructor(options: AgentIdentityOptions, context: KeeperContext) {
    const renewAt = options.renewAt ?? IDENTITY_DEFAULTS.renewAt
    if (!(renewAt > 0 && renewAt < 1))
      throw new WeftError('WEFT_INVALID_ARGUMENT', `createAgent: identity.renewAt must be between 0 and 1, got ${renewAt}`)
    if (typeof options.dir !== 'string' || options.dir.length === 0)
      throw new WeftError('WEFT_INVALID_ARGUMENT', 'createAgent: identity.dir must be a folder path')
    this.#o = { ...options, renewAt }
    this.#c = context
    this.#spiffeId = options.spiffeId ?? serviceSpiffeId(options.trustDomain ?? IDENTITY_DEFAULTS.trustDomain, context.service)
    this.#status.identity = this.#spiffeId
  }

  status(): CertificateStatus {
    return { ...this.#status }
  }

  /** The identity in force, if any: what polls present over mTLS. */
  current(): Identity | undefined {
    return this.#identity
  }

  /** The SPIFFE ID an HTTPS control plane must prove. */
  controlPlaneId(): string {
    const td = this.#identity?.trustDomain ?? new URL(this.#spiffeId).host
    return `spiffe://${td}${CONTROL_PLANE_SPIFFE_PATH}`
  }

  /** Resolves once the folder holds a valid certificate (reading it, or obtaining one); retries with backoff until `signal` aborts. */
  async ready(): Promise<void> {
    this.#identity = await this.#readFolder()
    if (this.#identity !== undefined && this.#c.clock.now() < this.#renewTime(this.#identity)) return this.#schedule(this.#identity)
    for (;;) {
      try {
        return await this.renew()
      } catch (err) {
        if (this.#c.signal.aborted) throw err
        this.#c.nextSource()
        await this.#c.clock.sleep(this.#c.backoff.next(), this.#c.signal)
      }
    }
  }

  /** Obtains a new certificate now; throws (and records) on failure, the old certificate stays. */
  async renew(): Promise<void> {
    try {
      const next = await this.#obtain()
      this.#identity = next
      this.#status.obtained++
      this.#status.lastError = undefined
      this.#c.backoff.reset()
      this.#schedule(next)
    } catch (err) {
      const message = `certificate for ${this.#spiffeId}: ${(err as Error).message}`
      this.#status.lastError = { at: this.#c.clock.now(), message }
      this.#c.warn(message)
      throw err
    }
  }

  close(): void {
    this.#timer?.cancel()
  }

  #renewTime(identity: Identity): number {
    const from = identity.notBefore.getTime()
    return from + (identity.notAfter.getTime() - from) * this.#o.renewAt
  }

  #schedule(identity: Identity) {
    this.#timer?.cancel()
    const at = this.#renewTime(identity)
    this.#status.notAfter = identity.notAfter.getTime()
    this.#status.renewAt = at
    const attempt = () => {
      if (this.#c.signal.aborted) return
      this.renew().catch(() => {
        // keep trying while the certificate is still good; backoff spreads many agents apart
        if (this.#c.signal.aborted) return
        this.#c.nextSource()
        this.#timer = this.#c.clock.setTimer(attempt, this.#c.backoff.next())
      })
    }
    this.#timer = this.#c.clock.setTimer(attempt, at - this.#c.clock.now())
  }

  async #readFolder(): Promise<Identity | undefined> {
    const dir = this.#o.dir
    try {
      const [cert, key, bundle] = await Promise.all(Object.values(IDENTITY_FILES).map((f) => readFile(join(dir, f), 'utf8')))
      const identity = createIdentity({ cert: cert as string, key: key as string, bundle: bundle as string }, { now: this.#c.clock.now() })
      if (identity.spiffeId !== this.#spiffeId) {
        this.#c.warn(`${dir} holds a certificate for ${identity.spiffeId}, not ${this.#spiffeId}; asking for a new one`)
        return undefined
      }
      return identity
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#c.warn(`${dir}: ${(err as Error).message}; asking for a new certificate`)
      return undefined
    }
  }

  async #obtain(): Promise<Identity> {
    const current = this.#identity !== undefined && this.#c.clock.now() < this.#identity.notAfter.getTime() ? this.#identity : undefined
    if (current === undefined && this.#o.token === undefined)
      throw new Error('no valid certificate to renew with, and no bootstrap token for a first one')
    const source = this.#c.sources()
    if (source.protocol !== 'https:') throw new Error(`certificates are only requested over https, and ${source.origin} is not`)
    const x509 = loadX509() // loaded here, not at import: a mesh without certificates never pays for it
    const keys = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'O=weft',
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: this.#spiffeId }])],
    })
    const headers: Record<string, string> = { 'content-type': JSON_CONTENT_TYPE, accept: JSON_CONTENT_TYPE }
    if (current === undefined) headers.authorization = `Bearer ${this.#o.token}`
    const ca = current?.bundle ?? this.#c.tls?.ca
    if (ca === undefined) throw new Error('no trust bundle to verify the control plane with: pass tls.ca for the first certificate')
    const res = await exchange({
      method: 'POST',
      url: new URL(CERTIFICATES_PATH, source),
      headers,
      body: JSON.stringify({ csr: csr.toString('pem') }),
      timeoutMs: this.#c.requestTimeout,
      maxBytes: 64 * 1024,
      clock: this.#c.clock,
      agent: this.#c.agent,
      signal: this.#c.signal,
      tls: { ca, cert: current?.cert, key: current?.key, serverIdentity: this.controlPlaneId() },
    })
    let answer: Partial<CertificateResponse> & { error?: { message?: string } }
    try {
      answer = JSON.parse(res.body.toString('utf8'))
    } catch {
      throw new Error(`${source.origin} answered ${res.status} with a body that is not JSON`)
    }
    if (res.status !== 200) throw new Error(`${source.origin} refused (${res.status}): ${answer.error?.message ?? 'no reason given'}`)
    if (typeof answer.cert !== 'string' || typeof answer.bundle !== 'string')
      throw new Error(`${source.origin} answered without a cert and bundle`)
    const key = toPem(await subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY')
    const pems: IdentityPems = { cert: answer.cert, key, bundle: answer.bundle }
    // the same checks the mesh applies: key matches, SVID rules, chains to the bundle, valid now
    const identity = createIdentity(pems, { now: this.#c.clock.now() })
    if (identity.spiffeId !== this.#spiffeId) throw new Error(`${source.origin} issued ${identity.spiffeId}, not ${this.#spiffeId}`)
    // a renewal must chain to the bundle already trusted: a control plane cannot swap the trust anchor under us
    if (current !== undefined) createIdentity({ ...pems, bundle: current.bundle }, { now: this.#c.clock.now() })
    await writeIdentity(this.#o.dir, pems)
    await this.#o.onCertificate?.(pems)
    return identity
  }
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64')
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`
}
