/** Real servers on loopback for tests: start one, see what it received, close it. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { type AddressInfo, connect } from 'node:net'

export interface SeenRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

export interface Upstream {
  /** `127.0.0.1:port` */
  readonly address: string
  readonly port: number
  readonly url: string
  /** Every request received, in order, with its body read in full. */
  readonly requests: SeenRequest[]
  readonly server: Server
  close(): Promise<void>
}

export type UpstreamHandler = (req: IncomingMessage & { body: string }, res: ServerResponse) => unknown

/** A node:http server on 127.0.0.1:0 that reads each request body, records it, then calls `handler`. */
export async function listen(handler: UpstreamHandler = (_req, res) => res.end('ok')): Promise<Upstream> {
  const requests: SeenRequest[] = []
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString()
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
    try {
      await handler(Object.assign(req, { body }), res)
    } catch (err) {
      res.statusCode = 500
      res.end(String(err))
    }
  })
  return serve(server, requests)
}

/** Listens on 127.0.0.1:0 and wraps a server you built as an Upstream. */
export async function serve(server: Server, requests: SeenRequest[] = []): Promise<Upstream> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    address: `127.0.0.1:${port}`,
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}

/** A policy document with one service per entry, each listing the given upstreams as endpoints. */
export function policyFor(
  services: Record<string, Upstream | Upstream[]>,
  extra: Record<string, Record<string, unknown>> = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, ups] of Object.entries(services)) {
    out[name] = { endpoints: (Array.isArray(ups) ? ups : [ups]).map((u) => ({ address: u.address })), ...extra[name] }
  }
  return { apiVersion: 'weft.dev/v1', services: out }
}

/**
 * Sends `method target HTTP/1.1` on a fresh socket exactly as written (no client normalizes the
 * target), and answers the response's status code; 0 when the server closed without answering.
 */
export function rawStatus(port: number, method: string, target: string, host = 'inventory'): Promise<number> {
  return new Promise((resolve, reject) => {
    let head = ''
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`${method} ${target} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`),
    )
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      head += chunk
    })
    socket.on('error', reject)
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0)))
  })
}
