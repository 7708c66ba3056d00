/**
 * One HTTP exchange with the control plane over node:http(s), with the limits a client of an untrusted
 * server needs: a total deadline (a server that drips bytes cannot hold it), a body byte limit, and no
 * redirects followed.
 */
import http from 'node:http'
import https from 'node:https'
import type { Clock } from '@weft/core'

export interface HttpRequest {
  method: 'GET' | 'POST'
  url: URL
  headers: Record<string, string>
  body?: string
  /** The whole exchange, body included, must end within this many ms. */
  timeoutMs: number
  /** Answers with a larger body are cut off. */
  maxBytes: number
  clock: Clock
  agent: http.Agent
  signal?: AbortSignal
  /** TLS material for an `https:` URL. */
  tls?:
    | {
        ca?: string | undefined
        cert?: string | undefined
        key?: string | undefined
        /** The SPIFFE ID the server must prove (its certificate's URI SAN), checked instead of the host name. */
        serverIdentity?: string | undefined
      }
    | undefined
}

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

/** Why an exchange failed, for status and logs. */
export class ExchangeError extends Error {
  readonly kind: 'timeout' | 'too-large' | 'network' | 'aborted'
  constructor(kind: ExchangeError['kind'], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'ExchangeError'
    this.kind = kind
  }
}

export function exchange(req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let settled = false
    let incoming: http.IncomingMessage | undefined
    const fail = (err: ExchangeError) => {
      if (settled) return
      settled = true
      timer.cancel()
      req.signal?.removeEventListener('abort', onAbort)
      outgoing.destroy(err)
      incoming?.destroy()
      reject(err)
    }
    const done = (res: HttpResponse) => {
      if (settled) return
      settled = true
      timer.cancel()
      req.signal?.removeEventListener('abort', onAbort)
      resolve(res)
    }
    const onAbort = () => fail(new ExchangeError('aborted', `request to ${req.url.origin} aborted`))

    const options: https.RequestOptions = { method: req.method, headers: req.headers, agent: req.agent }
    if (req.url.protocol === 'https:' && req.tls !== undefined) {
      if (req.tls.ca !== undefined) options.ca = req.tls.ca
      if (req.tls.cert !== undefined) options.cert = req.tls.cert
      if (req.tls.key !== undefined) options.key = req.tls.key
      const expected = req.tls.serverIdentity
      if (expected !== undefined) {
        // a mesh names its control plane by identity, not by DNS: the chain is verified against `ca`, then the URI SAN must match
        options.checkServerIdentity = (_host, cert) => {
          const uris = (cert.subjectaltname ?? '').split(', ').filter((n) => n.startsWith('URI:'))
          if (uris.length === 1 && uris[0] === `URI:${expected}`) return undefined
          return new Error(`the server is not ${expected} (its certificate names ${uris.join(', ') || 'no URI'})`)
        }
      }
    }
    const outgoing = (req.url.protocol === 'https:' ? https : http).request(req.url, options)
    const timer = req.clock.setTimer(
      () => fail(new ExchangeError('timeout', `no complete answer from ${req.url.origin} within ${req.timeoutMs}ms`)),
      req.timeoutMs,
    )
    if (req.signal?.aborted) return onAbort()
    req.signal?.addEventListener('abort', onAbort, { once: true })

    outgoing.on('error', (err) =>
      fail(new ExchangeError('network', `${req.method} ${req.url.origin}${req.url.pathname}: ${err.message}`, err)),
    )
    outgoing.on('response', (res) => {
      incoming = res
      const declared = Number(res.headers['content-length'])
      // fail() first: it settles before destroying, so the destroy's own events are ignored
      if (declared > req.maxBytes)
        return fail(new ExchangeError('too-large', `answer of ${declared} bytes is over the limit of ${req.maxBytes} bytes`))
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > req.maxBytes) return fail(new ExchangeError('too-large', `answer body passed the limit of ${req.maxBytes} bytes`))
        chunks.push(chunk)
      })
      res.on('error', (err) => fail(new ExchangeError('network', `reading the answer from ${req.url.origin}: ${err.message}`, err)))
      res.on('aborted', () => fail(new ExchangeError('network', `the answer from ${req.url.origin} was cut off`)))
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks, size) }))
    })
    outgoing.end(req.body)
  })
}
