/**
 * The admin endpoint: `/metrics`, `/config`, `/stack`, `/endpoints`, `/tap` (server-sent events of
 * live call summaries, bounded per reader), `/ready` and `/live`, served from a small source
 * interface the mesh fills in. Listens on 127.0.0.1 unless told otherwise.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Direction, WeftError } from '@weft/core'
import { TAP_DEFAULTS } from '@weft/metrics'

/** A live call summary as `/tap` sends it (`@weft/metrics`' TapEvent is one). */
export type AdminTapEvent = object

/** What `/tap` needs: `@weft/metrics`' Tap is one. */
export interface AdminTapSource {
  subscribe(
    filter: { direction?: Direction; service?: string; route?: string; path?: string; method?: string },
    options: { capacity?: number; onReadable?: () => void },
  ): { shift(): AdminTapEvent | undefined; readonly buffered: number; readonly dropped: number; close(): void }
}

/** What the admin endpoint serves; `mesh.admin()` fills it in from the mesh. */
export interface AdminSource {
  /** The prom-client Registry the metrics are registered in. */
  readonly registry: { metrics(): Promise<string>; readonly contentType: string }
  /** The effective policy: `{ version, source, file?, document }`. */
  config(): unknown
  /** The client and server stack order with the reason for each layer. */
  stack(): unknown
  /** The balancer's view of each service's endpoints: state, in flight, latency, ejections. */
  endpoints(): unknown
  /** Live call summaries. */
  readonly tap: AdminTapSource
  /** False while the mesh cannot serve (no policy yet, closing). Default: always ready. */
  ready?(): boolean
}

export interface AdminOptions {
  /** Port to listen on; `0` picks a free one. Default `9990`. */
  port?: number
  /** Address to listen on. Default `'127.0.0.1'` (the admin endpoint is not for the network). */
  host?: string
  /** Events buffered per `/tap` reader before new ones are dropped, 1 to 10 000. Default `256`. */
  tapCapacity?: number
  /** A comment line keeps idle `/tap` streams open through proxies this often (ms). Default `15000`. */
  tapHeartbeat?: number
}

export const ADMIN_DEFAULTS = { port: 9990, host: '127.0.0.1', tapCapacity: 256, tapHeartbeat: 15_000 } as const

/** A running admin endpoint. */
export interface AdminServer {
  /** `http://host:port` */
  readonly url: string
  /** What each open `/tap` stream holds now: events buffered, events dropped, bytes queued on its socket. */
  tapStreams(): { buffered: number; dropped: number; queuedBytes: number }[]
  /** Ends every `/tap` stream and stops listening. */
  close(): Promise<void>
}

const PATHS = ['/metrics', '/config', '/stack', '/endpoints', '/tap', '/ready', '/live'] as const

interface TapStream {
  readonly res: ServerResponse
  readonly sub: ReturnType<AdminTapSource['subscribe']>
  end(): void
}

/** The admin endpoint as a request listener, to mount in a server of your own. */
export function adminHandler(source: AdminSource, options: AdminOptions = {}): RequestListener & { streams: Set<TapStream> } {
  checkSource(source)
  const capacity = options.tapCapacity ?? ADMIN_DEFAULTS.tapCapacity
  const heartbeat = options.tapHeartbeat ?? ADMIN_DEFAULTS.tapHeartbeat
  // checked here, not at the first /tap: the tap refuses a bad capacity by throwing, inside a request
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > TAP_DEFAULTS.maxCapacity)
    throw new WeftError(
      'WEFT_INVALID_ARGUMENT',
      `admin: tapCapacity must be an integer from 1 to ${TAP_DEFAULTS.maxCapacity}, got ${capacity}`,
    )
  if (typeof heartbeat !== 'number' || !(heartbeat > 0) || !Number.isFinite(heartbeat))
    throw new WeftError('WEFT_INVALID_ARGUMENT', `admin: tapHeartbeat must be a positive number of milliseconds, got ${heartbeat}`)
  const streams = new Set<TapStream>()

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://admin')
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, { error: `${req.method} not allowed; the admin endpoint is read-only` }, { allow: 'GET, HEAD' })
    switch (url.pathname) {
      case '/':
        return send(res, 200, { paths: PATHS })
      case '/metrics':
        source.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': source.registry.contentType })
            res.end(text)
          },
          (err: unknown) => send(res, 500, { error: String((err as Error)?.message ?? err) }),
        )
        return
      case '/config':
        return json(res, () => source.config())
      case '/stack':
        return json(res, () => source.stack())
      case '/endpoints':
        return json(res, () => source.endpoints())
      case '/ready': {
        const ready = source.ready?.() ?? true
        return send(res, ready ? 200 : 503, { ready })
      }
      case '/live':
        return send(res, 200, { live: true })
      case '/tap':
        return tap(req, res, url.searchParams)
      default:
        return send(res, 404, { error: `no ${url.pathname} here`, paths: PATHS })
    }
  }

  function tap(req: IncomingMessage, res: ServerResponse, query: URLSearchParams) {
    const filter: Parameters<AdminTapSource['subscribe']>[0] = {}
    for (const key of ['service', 'route', 'path', 'method'] as const) {
      const v = query.get(key)
      if (v !== null && v !== '') filter[key] = key === 'method' ? v.toUpperCase() : v
    }
    const direction = query.get('direction')
    if (direction === 'inbound' || direction === 'outbound') filter.direction = direction
    // a filter it cannot apply would stream every call, which reads as if the filter held
    else if (direction !== null && direction !== '')
      return send(res, 400, { error: `direction must be inbound or outbound, got ${JSON.stringify(direction.slice(0, 64))}` })
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' })
    res.write(': weft tap\n\n')
    if (req.method === 'HEAD') return res.end()

    let scheduled = false
    let waitingForDrain = false
    let reportedDrops = 0
    const flush = () => {
      scheduled = false
      if (waitingForDrain || res.destroyed) return
      if (sub.dropped > reportedDrops) {
        reportedDrops = sub.dropped
        res.write(`event: dropped\ndata: {"dropped":${reportedDrops}}\n\n`)
      }
      for (;;) {
        const event = sub.shift()
        if (event === undefined) return
        if (!res.write(`data: ${JSON.stringify(event)}\n\n`)) break
      }
      // the socket's buffer is full (the reader is behind): stop writing, so events pile up only in
      // the bounded buffer (and are dropped past it) until the socket drains
      waitingForDrain = true
      res.once('drain', () => {
        waitingForDrain = false
        flush()
      })
    }
    const sub = source.tap.subscribe(filter, {
      capacity,
      onReadable: () => {
        if (scheduled) return
        scheduled = true
        setImmediate(flush)
      },
    })
    const ping = setInterval(() => {
      if (!waitingForDrain) res.write(': ping\n\n')
    }, heartbeat)
    ping.unref()
    const stream: TapStream = {
      res,
      sub,
      end() {
        clearInterval(ping)
        sub.close()
        streams.delete(stream)
        if (!res.writableEnded) res.end()
      },
    }
    streams.add(stream)
    res.on('close', () => stream.end())
  }

  return Object.assign(handler, { streams })
}

/** Starts the admin endpoint; resolves once it listens. */
export async function createAdminServer(source: AdminSource, options: AdminOptions = {}): Promise<AdminServer> {
  const host = options.host ?? ADMIN_DEFAULTS.host
  const port = options.port ?? ADMIN_DEFAULTS.port
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new WeftError('WEFT_INVALID_ARGUMENT', `admin: port must be an integer from 0 to 65535, got ${port}`)
  const handler = adminHandler(source, options)
  // not an import of node:http: that reads every export, and its `WebSocket` getter loads Node's own
  // bundled undici (about 2 MB of RSS) that weft never uses
  const server = process.getBuiltinModule('node:http').createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
  let closing: Promise<void> | undefined
  return {
    url: `http://${shown}:${address.port}`,
    tapStreams: () =>
      [...handler.streams].map((s) => ({ buffered: s.sub.buffered, dropped: s.sub.dropped, queuedBytes: s.res.writableLength })),
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const s of [...handler.streams]) s.end()
        server.close(() => resolve())
        server.closeIdleConnections()
        setImmediate(() => server.closeAllConnections())
      })
      return closing
    },
  }
}

function checkSource(source: AdminSource): void {
  const missing = ['config', 'stack', 'endpoints'].filter((k) => typeof (source as unknown as Record<string, unknown>)?.[k] !== 'function')
  if (typeof source?.registry?.metrics !== 'function') missing.unshift('registry')
  if (typeof source?.tap?.subscribe !== 'function') missing.push('tap')
  if (missing.length > 0) throw new WeftError('WEFT_INVALID_ARGUMENT', `admin: the source lacks ${missing.join(', ')}`)
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(`${JSON.stringify(body, null, 2)}\n`)
}

function json(res: ServerResponse, read: () => unknown): void {
  let body: unknown
  try {
    body = read()
  } catch (err) {
    send(res, 500, { error: err instanceof Error ? err.message : String(err) })
    return
  }
  send(res, 200, body)
}
