/**
 * The mesh-agent's policy half: long-polls the control plane with ETags, validates every document before
 * it is applied, keeps the last good one (in memory and in an on-disk cache), and backs off with jitter
 * when the control plane fails or lies.
 */
import http from 'node:http'
import https from 'node:https'
import { type Clock, type Duration, findCause, holdOpen, parseDuration, systemClock, WeftError } from '@weft/core'
import { describeCertificate } from '@weft/mtls'
import type { Policy } from '@weft/policy'
import { type Backoff, createBackoff } from './backoff.js'
import { readCache, writeCache } from './cache.js'
import { type AgentIdentityOptions, CertificateKeeper, type CertificateStatus } from './certificates.js'
import { ExchangeError, exchange, type HttpRequest, type HttpResponse } from './http-request.js'
import {
  CONTROL_PLANE_SPIFFE_PATH,
  etagOf,
  JSON_CONTENT_TYPE,
  POLICY_PATH,
  type PolicyEnvelope,
  SERVICE_NAME,
  versionOfEtag,
} from './protocol.js'
import { validateDocument } from './validate.js'

export interface AgentLogger {
  warn(message: string, details?: Readonly<Record<string, unknown>>): void
  info?(message: string, details?: Readonly<Record<string, unknown>>): void
}

export interface AgentOptions {
  /** The control plane's base URL (`http://127.0.0.1:7700`), or several replicas tried in turn on failure. */
  source: string | URL | readonly (string | URL)[]
  /** This process's service name: the `service` the agent asks for and accepts. */
  service: string
  /** A file for the last good document, so a restart works while the control plane is down. Default: none. */
  cache?: string | undefined
  /** `start()` rejects with WEFT_POLICY_UNAVAILABLE when neither the control plane nor the cache gave a policy by then. Default `10s`. */
  startTimeout?: Duration | undefined
  /** How long the control plane may hold a long poll before answering 304. Default `30s`. */
  wait?: Duration | undefined
  /** The whole exchange (body included) must end within this. Default `wait` + `5s`. */
  requestTimeout?: Duration | undefined
  /** Answers with a larger body are refused. Default 2 MiB (the policy limit is 1 MiB, plus the envelope). */
  maxBytes?: number | undefined
  /** Full-jitter exponential backoff between failed polls. Default `{ base: '250ms', max: '30s' }`. */
  backoff?: { base?: Duration; max?: Duration } | undefined
  /**
   * For an `https:` control plane before the agent has a certificate of its own: the mesh's trust bundle
   * (PEM). The control plane must prove `spiffe://<trust domain>/ns/weft-system/sa/control-plane`.
   */
  tls?: { ca?: string } | undefined
  /** Keep this service's certificate: obtain it (bootstrap token), renew it at half its lifetime. Default: off. */
  identity?: AgentIdentityOptions | undefined
  /** Called with every policy accepted after the one `start()` resolved with; a rejection counts as a refused document. */
  onPolicy?: ((policy: Policy) => unknown) | undefined
  /** Where failures are reported. Default: `console.warn`. */
  logger?: AgentLogger | undefined
  /** Clock for backoff, timeouts and status times; tests pass a ManualClock. Default `systemClock`. */
  clock?: Clock | undefined
  /** Uniform in [0, 1) for the jitter. Default `Math.random`. */
  random?: (() => number) | undefined
}

export const AGENT_DEFAULTS = {
  startTimeout: 10_000,
  wait: 30_000,
  /** `requestTimeout` is `wait` plus this. */
  requestSlack: 5_000,
  maxBytes: 2 * 1024 * 1024,
  backoff: { base: 250, max: 30_000 },
  /** A certificate request (not a long poll) must be answered within this. */
  certificateTimeout: 10_000,
} as const

/** What went wrong last, for `/config` and logs. */
export interface AgentProblem {
  /** Epoch milliseconds. */
  at: number
  /** `network`, `timeout`, `too-large`, `http`, `redirect`, `protocol` (a lying answer), `invalid` (failed validation), `apply`, `cache`. */
  kind: string
  message: string
  /** The system or TLS error code behind it, when there is one: `ECONNREFUSED`, `CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, … */
  code?: string | undefined
  /** The source that failed. */
  source?: string | undefined
}

export interface AgentStatus {
  service: string
  /** The control plane the agent talks to now. */
  source: string
  /** `starting` until a first policy, `synced` after a good answer, `degraded` while polls fail, `closed`. */
  state: 'starting' | 'synced' | 'degraded' | 'closed'
  /** The version in force (the control plane's ETag), if any. */
  version: string | undefined
  /** Where the policy in force came from. */
  origin: 'control-plane' | 'cache' | undefined
  /** Epoch ms of the last good answer from the control plane (a 200 applied or a 304). */
  lastSync: number | undefined
  /** Epoch ms when the policy in force was applied. */
  lastChange: number | undefined
  lastError: AgentProblem | undefined
  /** Documents refused: invalid, for another service, wrong content type, no ETag, … */
  rejected: number
  /** Polls that failed (network, timeout, HTTP errors), refused documents included. */
  failures: number
  /** The certificate kept by the agent, when `identity` is set. */
  certificate?: CertificateStatus | undefined
}

export interface Agent {
  /**
   * Resolves with a first policy (control plane, or the cache when the control plane fails) — and, with
   * `identity`, once a valid certificate is in its folder; same promise every time.
   */
  start(): Promise<Policy>
  status(): AgentStatus
  /** Stops polling and closes connections; same promise every time. */
  close(): Promise<void>
}

/** Creates an agent; nothing happens until `start()`. */
export function createAgent(options: AgentOptions): Agent {
  return new PolicyAgent(options)
}

interface Settings {
  sources: URL[]
  service: string
  cache: string | undefined
  startTimeout: number
  wait: number
  requestTimeout: number
  maxBytes: number
  tls: AgentOptions['tls']
  clock: Clock
  logger: AgentLogger
}

function resolveOptions(options: AgentOptions): Settings & { backoff: Backoff; certificateBackoff: Backoff } {
  const bad = (message: string) => new WeftError('WEFT_INVALID_ARGUMENT', `createAgent: ${message}`)
  if (typeof options?.service !== 'string' || !SERVICE_NAME.test(options.service))
    throw bad(`service must be a service name, got ${JSON.stringify(options?.service)}`)
  const list = Array.isArray(options.source) ? options.source : [options.source]
  if (list.length === 0) throw bad('source must name at least one control plane URL')
  const sources = list.map((s) => {
    let url: URL
    try {
      url = new URL(String(s))
    } catch {
      throw bad(`source ${JSON.stringify(String(s))} is not a URL`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad(`source ${url.href} must be http: or https:`)
    return url
  })
  const duration = (name: string, value: Duration | undefined, fallback: number) => {
    if (value === undefined) return fallback
    try {
      return parseDuration(value)
    } catch (err) {
      throw bad(`${name}: ${(err as Error).message}`)
    }
  }
  const wait = duration('wait', options.wait, AGENT_DEFAULTS.wait)
  const maxBytes = options.maxBytes ?? AGENT_DEFAULTS.maxBytes
  if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw bad(`maxBytes must be a positive integer, got ${maxBytes}`)
  const base = duration('backoff.base', options.backoff?.base, AGENT_DEFAULTS.backoff.base)
  const max = duration('backoff.max', options.backoff?.max, AGENT_DEFAULTS.backoff.max)
  return {
    sources,
    service: options.service,
    cache: options.cache,
    startTimeout: duration('startTimeout', options.startTimeout, AGENT_DEFAULTS.startTimeout),
    wait,
    requestTimeout: duration('requestTimeout', options.requestTimeout, wait + AGENT_DEFAULTS.requestSlack),
    maxBytes,
    tls: options.tls,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? { warn: (message) => console.warn(`[weft agent] ${message}`) },
    backoff: createBackoff({ base: Math.max(1, base), max: Math.max(base, max), random: options.random ?? Math.random }),
    certificateBackoff: createBackoff({ base: Math.max(1, base), max: Math.max(base, max), random: options.random ?? Math.random }),
  }
}

/** A refused answer: counted as a rejected document, not only as a failed poll. */
class Refused extends Error {
  readonly kind: 'protocol' | 'invalid' | 'apply'
  constructor(kind: Refused['kind'], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.kind = kind
  }
}

class PolicyAgent implements Agent {
  readonly #s: Settings
  readonly #backoff: Backoff
  readonly #onPolicy: AgentOptions['onPolicy']
  readonly #http = new http.Agent({ keepAlive: true, maxSockets: 2 })
  readonly #https = new https.Agent({ keepAlive: true, maxSockets: 2 })
  readonly #keeper: CertificateKeeper | undefined
  readonly #stop = new AbortController()
  #sourceIndex = 0
  #current: { version: string; policy: Policy } | undefined
  #cached: { version: string; policy: Policy } | undefined
  #status: AgentStatus
  #lastLogged = ''
  #starting: Promise<Policy> | undefined
  #started = false
  #settleStart: { resolve(p: Policy): void; reject(err: unknown): void } | undefined
  #startTimer: { cancel(): void } | undefined
  #loop: Promise<void> | undefined
  #closing: Promise<void> | undefined

  constructor(options: AgentOptions) {
    const { backoff, certificateBackoff, ...settings } = resolveOptions(options)
    this.#s = settings
    this.#backoff = backoff
    this.#onPolicy = options.onPolicy
    this.#keeper =
      options.identity === undefined
        ? undefined
        : new CertificateKeeper(options.identity, {
            service: settings.service,
            sources: () => this.#source,
            nextSource: () => this.#nextSource(),
            clock: settings.clock,
            backoff: certificateBackoff,
            tls: settings.tls,
            requestTimeout: AGENT_DEFAULTS.certificateTimeout,
            agent: this.#https,
            signal: this.#stop.signal,
            warn: (m) => settings.logger.warn(m, { service: settings.service, kind: 'certificate' }),
          })
    this.#status = {
      service: settings.service,
      source: this.#source.origin,
      state: 'starting',
      version: undefined,
      origin: undefined,
      lastSync: undefined,
      lastChange: undefined,
      lastError: undefined,
      rejected: 0,
      failures: 0,
    }
  }

  get #source(): URL {
    return this.#s.sources[this.#sourceIndex] as URL
  }

  start(): Promise<Policy> {
    this.#starting ??= (() => {
      const policy = new Promise<Policy>((resolve, reject) => {
        if (this.#closing !== undefined) return reject(unavailable(this.#s, 'the agent was closed before it started'))
        this.#settleStart = { resolve, reject }
        this.#startTimer = this.#s.clock.setTimer(() => this.#startTimedOut(), this.#s.startTimeout)
        this.#loop = this.#run()
      })
      if (this.#keeper === undefined) return holdOpen(policy)
      const certificate = this.#certificateReady(this.#keeper)
      return holdOpen(Promise.all([policy, certificate]).then(([p]) => p))
    })()
    return this.#starting
  }

  /** The keeper's first certificate, within startTimeout. */
  #certificateReady(keeper: CertificateKeeper): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = this.#s.clock.setTimer(() => {
        const last = keeper.status().lastError
        reject(
          new WeftError(
            'WEFT_POLICY_UNAVAILABLE',
            `no certificate for ${this.#s.service} within ${this.#s.startTimeout}ms${last === undefined ? '' : `: ${last.message}`}`,
            {
              details: { service: this.#s.service, lastError: last },
            },
          ),
        )
        void this.close()
      }, this.#s.startTimeout)
      keeper.ready().then(
        () => {
          timer.cancel()
          resolve()
        },
        (err: unknown) => {
          timer.cancel()
          reject(this.#closing !== undefined ? unavailable(this.#s, 'the agent was closed before a certificate arrived') : err)
        },
      )
    })
  }

  status(): AgentStatus {
    const status: AgentStatus = { ...this.#status, lastError: this.#status.lastError && { ...this.#status.lastError } }
    if (this.#keeper !== undefined) status.certificate = this.#keeper.status()
    return status
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#status.state = 'closed'
      this.#stop.abort()
      this.#startTimer?.cancel()
      this.#keeper?.close()
      this.#failStart(unavailable(this.#s, 'the agent was closed before a first policy arrived'))
      await this.#loop
      this.#http.destroy()
      this.#https.destroy()
    })()
    return this.#closing
  }

  async #run(): Promise<void> {
    if (this.#s.cache !== undefined) await this.#loadCache(this.#s.cache)
    while (!this.#stop.signal.aborted) {
      let ok = false
      try {
        await this.#poll()
        ok = true
      } catch (err) {
        if (this.#stop.signal.aborted) break
        this.#recordFailure(err)
      }
      if (ok) {
        this.#backoff.reset()
        continue
      }
      this.#nextSource()
      if (!this.#started && this.#cached !== undefined) this.#adopt(this.#cached, 'cache')
      try {
        await this.#s.clock.sleep(this.#backoff.next(), this.#stop.signal)
      } catch {
        break
      }
    }
  }

  /** A failed replica: the next request goes to the next one. */
  #nextSource() {
    this.#sourceIndex = (this.#sourceIndex + 1) % this.#s.sources.length
    this.#status.source = this.#source.origin
  }

  /** TLS for an https control plane: our certificate when we have one, else the configured bundle. */
  #tls(): HttpRequest['tls'] {
    const id = this.#keeper?.current()
    if (id !== undefined && this.#keeper !== undefined)
      return { ca: id.bundle, cert: id.cert, key: id.key, serverIdentity: this.#keeper.controlPlaneId() }
    const ca = this.#s.tls?.ca
    return { ca, serverIdentity: this.#keeper?.controlPlaneId() ?? (ca === undefined ? undefined : controlPlaneIdFromBundle(ca)) }
  }

  /** One exchange; resolves when the answer was good (applied, or nothing new), throws otherwise. */
  async #poll(): Promise<void> {
    const source = this.#source
    const url = new URL(POLICY_PATH, source)
    url.searchParams.set('service', this.#s.service)
    const headers: Record<string, string> = { accept: JSON_CONTENT_TYPE }
    const known = this.#current?.version
    if (known !== undefined) {
      url.searchParams.set('wait', `${this.#s.wait}ms`)
      headers['if-none-match'] = etagOf(known)
    }
    const res = await exchange({
      method: 'GET',
      url,
      headers,
      timeoutMs: this.#s.requestTimeout,
      maxBytes: this.#s.maxBytes,
      clock: this.#s.clock,
      agent: source.protocol === 'https:' ? this.#https : this.#http,
      signal: this.#stop.signal,
      tls: source.protocol === 'https:' ? this.#tls() : undefined,
    })
    if (res.status === 304) {
      if (known === undefined)
        throw new Refused('protocol', `${source.origin} answered 304 Not Modified to a request without If-None-Match`)
      return this.#synced()
    }
    if (res.status === 200) return this.#accept(res, source)
    if (res.status >= 300 && res.status < 400) {
      throw new ExchangeLike(
        'redirect',
        `${source.origin} redirected to ${String(res.headers.location ?? '(no location)')}; redirects are not followed`,
      )
    }
    throw new ExchangeLike('http', `${source.origin} answered ${res.status}${describeError(res)}`)
  }

  async #accept(res: HttpResponse, source: URL): Promise<void> {
    const origin = source.origin
    const type = String(res.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase()
    if (type !== JSON_CONTENT_TYPE)
      throw new Refused('protocol', `${origin} answered 200 with content type ${JSON.stringify(type)}, not ${JSON_CONTENT_TYPE}`)
    const etag = versionOfEtag(res.headers.etag)
    if (etag === undefined)
      throw new Refused('protocol', `${origin} answered 200 without a valid ETag (${JSON.stringify(res.headers.etag ?? null)})`)
    let envelope: PolicyEnvelope
    try {
      envelope = JSON.parse(res.body.toString('utf8')) as PolicyEnvelope
    } catch (err) {
      throw new Refused('protocol', `${origin} answered a body that is not JSON: ${(err as Error).message}`)
    }
    if (
      typeof envelope !== 'object' ||
      envelope === null ||
      typeof envelope.service !== 'string' ||
      typeof envelope.version !== 'string' ||
      !('document' in envelope)
    )
      throw new Refused('protocol', `${origin} answered JSON that is not a policy envelope ({ service, version, document })`)
    if (envelope.service !== this.#s.service)
      throw new Refused(
        'protocol',
        `${origin} answered the policy of service ${JSON.stringify(envelope.service)} to ${JSON.stringify(this.#s.service)}`,
      )
    if (envelope.version !== etag)
      throw new Refused('protocol', `${origin} answered version ${JSON.stringify(envelope.version)} under ETag ${JSON.stringify(etag)}`)
    if (envelope.version === this.#current?.version) return this.#synced()

    let policy: Policy
    try {
      policy = await validateDocument(envelope.document, envelope.version, `${origin}${POLICY_PATH}`)
    } catch (err) {
      throw new Refused('invalid', `${origin} served version ${envelope.version}, which fails validation: ${(err as Error).message}`, err)
    }
    if (this.#started) {
      try {
        await this.#onPolicy?.(policy)
      } catch (err) {
        throw new Refused('apply', `version ${envelope.version} was refused when applied: ${(err as Error).message}`, err)
      }
    }
    this.#adopt({ version: envelope.version, policy }, 'control-plane')
    this.#synced()
    if (this.#s.cache !== undefined) {
      try {
        await writeCache(this.#s.cache, {
          service: envelope.service,
          version: envelope.version,
          document: envelope.document,
          savedAt: this.#s.clock.now(),
        })
      } catch (err) {
        this.#record({ kind: 'cache', message: `writing the policy cache ${this.#s.cache} failed: ${(err as Error).message}` })
      }
    }
  }

  /** Puts a policy in force; the first one settles `start()`. */
  #adopt(next: { version: string; policy: Policy }, origin: 'control-plane' | 'cache') {
    this.#current = next
    this.#status.version = next.version
    this.#status.origin = origin
    this.#status.lastChange = this.#s.clock.now()
    if (!this.#started) {
      this.#started = true
      this.#startTimer?.cancel()
      if (origin === 'cache') this.#status.state = 'degraded'
      this.#s.logger.info?.(`policy version ${next.version} in force, from the ${origin}`, { service: this.#s.service })
      this.#settleStart?.resolve(next.policy)
      this.#settleStart = undefined
    }
  }

  #synced() {
    this.#status.lastSync = this.#s.clock.now()
    this.#status.state = 'synced'
    this.#status.source = this.#source.origin
  }

  async #loadCache(path: string) {
    const read = await readCache(path, this.#s.service, this.#s.maxBytes)
    if (!read.ok) {
      if (!read.missing) this.#record({ kind: 'cache', message: `${read.reason}; ignored` })
      return
    }
    try {
      this.#cached = { version: read.cached.version, policy: await validateDocument(read.cached.document, read.cached.version, path) }
    } catch (err) {
      this.#record({
        kind: 'cache',
        message: `cache file ${path} holds a document that fails validation; ignored: ${(err as Error).message}`,
      })
    }
  }

  #startTimedOut() {
    if (this.#started) return
    if (this.#cached !== undefined) return this.#adopt(this.#cached, 'cache')
    const last = this.#status.lastError
    this.#failStart(
      unavailable(this.#s, `no policy within ${this.#s.startTimeout}ms${last === undefined ? '' : `; last error: ${last.message}`}`, last),
    )
    void this.close()
  }

  #failStart(err: WeftError) {
    if (this.#settleStart === undefined || this.#started) return
    this.#settleStart.reject(err)
    this.#settleStart = undefined
  }

  #recordFailure(err: unknown) {
    const e = err as Error & { kind?: string }
    this.#status.failures++
    if (err instanceof Refused) this.#status.rejected++
    if (this.#started) this.#status.state = 'degraded'
    this.#record({
      kind: err instanceof ExchangeError || err instanceof ExchangeLike || err instanceof Refused ? (e.kind as string) : 'network',
      message: e.message,
      code: systemCode(err),
      source: this.#source.origin,
    })
  }

  #record(problem: Omit<AgentProblem, 'at'>) {
    this.#status.lastError = { at: this.#s.clock.now(), ...problem }
    // one line per distinct problem, not one per retry of the same one
    if (problem.message === this.#lastLogged) return
    this.#lastLogged = problem.message
    const keeping = this.#current === undefined ? 'no policy yet' : `keeping version ${this.#current.version}`
    this.#s.logger.warn(`${problem.message} (${keeping})`, {
      service: this.#s.service,
      kind: problem.kind,
      ...(problem.code === undefined ? {} : { code: problem.code }),
      failures: this.#status.failures,
      rejected: this.#status.rejected,
    })
  }
}

/** A failed exchange that got an answer (an HTTP error or a redirect). */
class ExchangeLike extends Error {
  readonly kind: 'http' | 'redirect'
  constructor(kind: ExchangeLike['kind'], message: string) {
    super(message)
    this.kind = kind
  }
}

function describeError(res: HttpResponse): string {
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { error?: { message?: unknown } }
    if (typeof body?.error?.message === 'string') return `: ${body.error.message.slice(0, 500)}`
  } catch {}
  return ''
}

function unavailable(s: Settings, why: string, last?: AgentProblem): WeftError {
  return new WeftError(
    'WEFT_POLICY_UNAVAILABLE',
    `no policy for ${s.service} from ${s.sources.map((u) => u.origin).join(', ')}${s.cache === undefined ? '' : ` or the cache ${s.cache}`}: ${why}`,
    {
      details: { service: s.service, sources: s.sources.map((u) => u.origin), cache: s.cache, lastError: last },
    },
  )
}

/** The control plane's SPIFFE ID in the trust domain of a bundle's anchor (its URI SAN is `spiffe://<trust domain>`). */
function controlPlaneIdFromBundle(ca: string): string | undefined {
  try {
    const uri = describeCertificate(ca).uris[0]
    return uri === undefined ? undefined : `spiffe://${new URL(uri).host}${CONTROL_PLANE_SPIFFE_PATH}`
  } catch {
    return undefined
  }
}

/** The first string `code` along an error's causes (a socket's or OpenSSL's, under weft's own wrapping); weft's own codes are not it. */
function systemCode(err: unknown): string | undefined {
  const isSystem = (e: unknown): e is { code: string } => {
    const code = (e as { code?: unknown }).code
    return typeof code === 'string' && !code.startsWith('WEFT_')
  }
  return findCause(err, isSystem)?.code
}
