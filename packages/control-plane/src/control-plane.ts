/**
 * The reference control plane: serves the policy in force with an ETag and long polls
 * (`GET /v1/policy?service=NAME&wait=30s` + `If-None-Match`), its own status and metrics, and signs
 * certificates for authenticated callers (`POST /v1/certificates`).
 */
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { CERTIFICATES_PATH, etagOf, JSON_CONTENT_TYPE, POLICY_PATH, SERVICE_NAME, versionOfEtag } from '@weft/agent'
import { type Clock, type Duration, parseDuration, systemClock, type TimerHandle, WeftError } from '@weft/core'
import { type CertificateAuthorityOptions, createCertificateAuthority } from './certificates.js'
import { directoryStore } from './directory-store.js'
import type { PolicySnapshot, PolicyStore, StoreLogger } from './store.js'

export interface ControlPlaneOptions {
  /** A directory holding `mesh.yaml` or `mesh.json`, watched. Give this or `store`. */
  dir?: string | undefined
  /** Any policy store (`etcdStore({ endpoints })`, `directoryStore(dir)`); the control plane starts and closes it. */
  store?: PolicyStore | undefined
  /** Default `7700`; `0` picks a free port. */
  port?: number | undefined
  /** Default `127.0.0.1`. */
  host?: string | undefined
  /** Longest long poll; a larger `wait` is cut to this. Default `60s`. */
  maxWait?: Duration | undefined
  /**
   * Certificate issuing: the mesh's trust anchor and who may ask. Without it `POST /v1/certificates`
   * answers 404. With it the control plane serves HTTPS with a certificate of its own from the anchor and
   * asks callers for theirs (optional, so a bootstrap token works for the first one).
   */
  certificates?: CertificateAuthorityOptions | undefined
  /** Where problems are reported. Default: `console`. */
  logger?: StoreLogger | undefined
  /** Clock for long-poll timers and times; default `systemClock`. */
  clock?: Clock | undefined
}

export const CONTROL_PLANE_DEFAULTS = { port: 7700, host: '127.0.0.1', maxWait: 60_000 } as const

export interface ControlPlaneStatus {
  store: string
  version: string | undefined
  loadedAt: number | undefined
  lastError: { at: number; message: string; issues?: unknown } | undefined
  /** Long polls held open now. */
  watchers: number
  loads: number
  problems: number
  certificates: { issued: number; refused: number } | undefined
}

export interface ControlPlane {
  /** `http://127.0.0.1:7700` (or `https:` when issuing certificates). */
  readonly url: string
  status(): ControlPlaneStatus
  /** Answers held long polls with 503, closes every connection and the store; same promise every time. */
  close(): Promise<void>
}

interface Waiter {
  readonly res: http.ServerResponse
  readonly service: string
  readonly etag: string
  timer: TimerHandle | undefined
}

/** Starts a control plane; resolves once it listens and the store's first read is done. */
export async function createControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const bad = (message: string) => new WeftError('WEFT_INVALID_ARGUMENT', `createControlPlane: ${message}`)
  if ((options?.dir === undefined) === (options?.store === undefined)) throw bad('give exactly one of `dir` and `store`')
  const clock = options.clock ?? systemClock
  const logger: StoreLogger = options.logger ?? {
    warn: (m) => console.warn(`[weft control-plane] ${m}`),
    info: (m) => console.info(`[weft control-plane] ${m}`),
  }
  const maxWait = parseDuration(options.maxWait ?? CONTROL_PLANE_DEFAULTS.maxWait)
  const store = options.store ?? directoryStore(options.dir as string)
  const ca = options.certificates === undefined ? undefined : await createCertificateAuthority(options.certificates, clock)

  await store.start({ clock, logger })
  const waiters = new Set<Waiter>()
  let servedVersion = store.current()?.version
  const unsubscribe = store.onChange(() => {
    const snap = store.current()
    if (snap === undefined || snap.version === servedVersion) return
    servedVersion = snap.version
    // answer every long poll that waited on another version
    for (const w of waiters) if (w.etag !== snap.version) answer(w, snap)
  })

  function answer(w: Waiter, snap: PolicySnapshot | undefined) {
    waiters.delete(w)
    w.timer?.cancel()
    if (snap === undefined) notModified(w.res, w.etag)
    else sendPolicy(w.res, w.service, snap)
  }

  function handlePolicy(req: http.IncomingMessage, res: http.ServerResponse, url: URL) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, `${POLICY_PATH} takes GET`, { allow: 'GET, HEAD' })
    const service = url.searchParams.get('service')
    if (service === null || !SERVICE_NAME.test(service))
      return sendError(
        res,
        400,
        `${POLICY_PATH} needs ?service=NAME (a service name), got ${JSON.stringify(service?.slice(0, 64) ?? null)}`,
      )
    let wait = 0
    const waitParam = url.searchParams.get('wait')
    if (waitParam !== null) {
      try {
        wait = Math.min(parseDuration(/^\d+$/.test(waitParam) ? Number(waitParam) : waitParam), maxWait)
      } catch (err) {
        return sendError(res, 400, `wait: ${(err as Error).message}`)
      }
    }
    const snap = store.current()
    if (snap === undefined) {
      const problem = store.lastError()
      return sendError(res, 503, `no valid policy to serve yet${problem === undefined ? '' : `: ${problem.message}`}`, {
        'retry-after': '1',
      })
    }
    const known = matchingEtag(req.headers['if-none-match'], snap.version)
    if (!known) return sendPolicy(res, service, snap)
    if (wait === 0) return notModified(res, snap.version)
    const w: Waiter = { res, service, etag: snap.version, timer: undefined }
    w.timer = clock.setTimer(() => answer(w, undefined), wait)
    waiters.add(w)
    res.on('close', () => {
      if (waiters.delete(w)) w.timer?.cancel()
    })
  }

  function handleStatus(res: http.ServerResponse) {
    sendJson(res, 200, status())
  }

  function status(): ControlPlaneStatus {
    const snap = store.current()
    const problem = store.lastError()
    const counts = store.counts()
    return {
      store: store.description,
      version: snap?.version,
      loadedAt: snap?.loadedAt,
      lastError: problem && { ...problem },
      watchers: waiters.size,
      loads: counts.loads,
      problems: counts.problems,
      certificates: ca?.counts(),
    }
  }

  function handleMetrics(res: http.ServerResponse) {
    const s = status()
    const lines = [
      '# HELP weft_control_plane_policy_info The policy version served (value 1).',
      '# TYPE weft_control_plane_policy_info gauge',
      ...(s.version === undefined ? [] : [`weft_control_plane_policy_info{version="${s.version}"} 1`]),
      '# HELP weft_control_plane_policy_problem 1 while the latest document in the store is refused or unreadable (the last good one is served).',
      '# TYPE weft_control_plane_policy_problem gauge',
      `weft_control_plane_policy_problem ${s.lastError === undefined ? 0 : 1}`,
      '# HELP weft_control_plane_policy_loads_total Documents read from the store, by result.',
      '# TYPE weft_control_plane_policy_loads_total counter',
      `weft_control_plane_policy_loads_total{result="valid"} ${s.loads}`,
      `weft_control_plane_policy_loads_total{result="problem"} ${s.problems}`,
      '# HELP weft_control_plane_watchers Long polls held open.',
      '# TYPE weft_control_plane_watchers gauge',
      `weft_control_plane_watchers ${s.watchers}`,
    ]
    if (s.certificates !== undefined) {
      lines.push(
        '# HELP weft_control_plane_certificates_total Certificate requests, by result.',
        '# TYPE weft_control_plane_certificates_total counter',
        `weft_control_plane_certificates_total{result="issued"} ${s.certificates.issued}`,
        `weft_control_plane_certificates_total{result="refused"} ${s.certificates.refused}`,
      )
    }
    const body = `${lines.join('\n')}\n`
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body)
  }

  const listener: http.RequestListener = (req, res) => {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://control-plane')
    } catch {
      return sendError(res, 400, 'bad request target')
    }
    if (url.pathname === POLICY_PATH) return handlePolicy(req, res, url)
    if (url.pathname === CERTIFICATES_PATH) {
      if (ca === undefined) return sendError(res, 404, 'this control plane does not issue certificates (start it with a trust anchor)')
      return void ca.handle(req, res)
    }
    if (url.pathname === '/v1/status' && req.method === 'GET') return handleStatus(res)
    if (url.pathname === '/metrics' && req.method === 'GET') return handleMetrics(res)
    sendError(res, 404, `no ${req.method} ${url.pathname} here; try GET ${POLICY_PATH}?service=NAME`)
  }

  const server = ca === undefined ? http.createServer(listener) : https.createServer(ca.serverOptions(), listener)
  // a long poll is idle for up to maxWait; the socket must outlive it
  server.requestTimeout = 0
  server.headersTimeout = 60_000
  server.keepAliveTimeout = 65_000
  server.maxHeadersCount = 100
  const host = options.host ?? CONTROL_PLANE_DEFAULTS.host
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port ?? CONTROL_PLANE_DEFAULTS.port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    unsubscribe()
    await store.close()
    throw err
  }
  const { port } = server.address() as AddressInfo
  const url = `${ca === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`
  logger.info?.(`listening on ${url}, policy from ${store.description}`)

  let closing: Promise<void> | undefined
  return {
    url,
    status,
    close() {
      closing ??= (async () => {
        unsubscribe()
        for (const w of [...waiters]) {
          waiters.delete(w)
          w.timer?.cancel()
          sendError(w.res, 503, 'the control plane is shutting down', { connection: 'close' })
        }
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeAllConnections()
        await closed
        await store.close()
      })()
      return closing
    },
  }
}

/** True when an `If-None-Match` list names `version` (weak comparison, `*` included). */
function matchingEtag(header: string | undefined, version: string): boolean {
  if (header === undefined) return false
  for (const part of header.split(',')) {
    const tag = part.trim()
    if (tag === '*' || versionOfEtag(tag) === version) return true
  }
  return false
}

function sendPolicy(res: http.ServerResponse, service: string, snap: PolicySnapshot) {
  if (res.writableEnded || res.destroyed) return
  const body = `{"service":${JSON.stringify(service)},"version":${JSON.stringify(snap.version)},"document":${snap.json}}`
  res.writeHead(200, {
    'content-type': `${JSON_CONTENT_TYPE}; charset=utf-8`,
    'content-length': Buffer.byteLength(body),
    etag: etagOf(snap.version),
    'cache-control': 'no-cache',
  })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

function notModified(res: http.ServerResponse, version: string) {
  if (res.writableEnded || res.destroyed) return
  res.writeHead(304, { etag: etagOf(version), 'cache-control': 'no-cache' }).end()
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
  if (res.writableEnded || res.destroyed) return
  const body = JSON.stringify(value)
  res
    .writeHead(status, { ...headers, 'content-type': `${JSON_CONTENT_TYPE}; charset=utf-8`, 'content-length': Buffer.byteLength(body) })
    .end(body)
}

export function sendError(res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  sendJson(res, status, { error: { status, message } }, headers)
}
