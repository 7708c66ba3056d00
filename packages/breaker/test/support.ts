/** Test helpers: a call aimed at a real loopback server, and the inner handler that sends it over node:http. */
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Endpoint, Handler, Reply } from '@weft/core'
import { testCall } from '@weft/core/testing'

export interface Upstream {
  readonly endpoint: Endpoint
  /** Paths of the requests received, in order. */
  readonly requests: string[]
  close(): Promise<void>
}

/** A real node:http server on 127.0.0.1:0 answering with `status` (or what the function says each time). */
export async function listen(status: number | (() => number)): Promise<Upstream> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(req.url ?? '')
    res.statusCode = typeof status === 'number' ? status : status()
    res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: { address: `127.0.0.1:${port}`, host: '127.0.0.1', port, labels: {}, weight: 1 },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
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
