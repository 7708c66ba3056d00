/** Test helpers: a call aimed at a real loopback server, and the inner handler that sends it over node:http. */
import { request } from 'node:http'
import type { Endpoint, Handler, Reply } from '@weft/core'
import { testCall } from '@weft/core/testing'
import { listen as listenHttp } from '../../../test/support/servers.js'

export interface Upstream {
  readonly endpoint: Endpoint
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
    endpoint: { address: up.address, host: '127.0.0.1', port: up.port, labels: {}, weight: 1 },
    get requests() {
      return up.requests.map((r) => r.url)
    },
    close: up.close,
  }
}

export const call = testCall

/** Sends the call over node:http to its endpoint. */
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
