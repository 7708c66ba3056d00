/** Test helpers: calls, an endpoint source the test can change, and an inner handler that really sends over HTTP. */
import { request } from 'node:http'
import type { Call, Endpoint, EndpointSource, Handler, Reply } from '@weft/core'
import { testCall } from '@weft/core/testing'
import { staticSource } from '@weft/discovery'
import { listen as listenHttp } from '../../../test/support/servers.js'

export const call = testCall

export const reply = (status = 200): Reply => ({ status, headers: {}, body: undefined })

/** `n` endpoints `10.0.0.1:80` … (never dialled: the inner handler stands in for the network). */
export function addresses(n: number, from = 1): string[] {
  return Array.from({ length: n }, (_, i) => `10.0.${(i + from) >> 8}.${(i + from) & 255}:80`)
}

/** An endpoint source whose list the test sets. */
export function mutableSource(initial: (string | { address: string; labels?: Record<string, string>; weight?: number })[]) {
  let list: readonly Endpoint[] = staticSource(initial).current()
  const listeners = new Set<(e: readonly Endpoint[]) => void>()
  const source: EndpointSource & { set(next: typeof initial): void } = {
    current: () => list,
    subscribe(fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    close() {},
    set(next) {
      list = staticSource(next).current()
      for (const fn of listeners) fn(list)
    },
  }
  return source
}

/** Counts calls per endpoint address. */
export function tally(calls: readonly Call[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const c of calls) m.set(c.endpoint?.address ?? '?', (m.get(c.endpoint?.address ?? '?') ?? 0) + 1)
  return m
}

/** The inner handler for tests with real servers: sends the call over node:http to the chosen endpoint. */
export const httpHandler: Handler = (c) =>
  new Promise<Reply>((resolve, reject) => {
    const ep = c.endpoint as Endpoint
    const req = request({ host: ep.host, port: ep.port, method: c.method, path: c.path, headers: { connection: 'close' } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: {}, body: undefined }))
    })
    req.on('error', reject)
    req.end()
  })

export interface Upstream {
  /** `127.0.0.1:port` */
  readonly address: string
  /** Paths of the requests received, in order. */
  readonly requests: string[]
  close(): Promise<void>
}

/** A real node:http server on 127.0.0.1:0 answering with `status` (or what the function says each time). */
export async function listen(status: number | (() => number)): Promise<Upstream> {
  const up = await listenHttp((_req, res) => {
    res.statusCode = typeof status === 'number' ? status : status()
    res.end()
  })
  return {
    address: up.address,
    get requests() {
      return up.requests.map((r) => r.url)
    },
    close: up.close,
  }
}
