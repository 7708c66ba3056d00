/**
 * The few etcd v3 calls the store needs, over etcd's JSON gateway (`/v3/kv/range`, `/v3/kv/put`,
 * `/v3/watch`) with node:http: no client library, no gRPC, and it works with the etcd Debian ships.
 * Keys and values travel base64-encoded; a watch is a stream of newline-separated JSON results.
 */
import http from 'node:http'

export interface EtcdKeyValue {
  value: string | undefined
  /** The store revision of the read. */
  revision: number
  /** The revision that last changed the key (0 when absent). */
  modRevision: number
}

export type EtcdEvent = { type: 'put'; value: string; modRevision: number } | { type: 'delete'; modRevision: number }

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8')

/** A value above this is refused (the policy limit is 1 MiB; etcd's own default request limit is 1.5 MiB). */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024

export class EtcdGateway {
  readonly endpoint: URL
  readonly #agent = new http.Agent({ keepAlive: true })

  constructor(endpoint: string | URL) {
    this.endpoint = new URL(endpoint)
    if (this.endpoint.protocol !== 'http:')
      throw new Error(`etcd endpoint ${this.endpoint.href}: only http: is supported by the JSON gateway client`)
  }

  async range(key: string, timeoutMs = 5_000): Promise<EtcdKeyValue> {
    const r = (await this.#call('/v3/kv/range', { key: b64(key) }, timeoutMs)) as {
      header?: { revision?: string }
      kvs?: { value?: string; mod_revision?: string }[]
    }
    const kv = r.kvs?.[0]
    return {
      value: kv === undefined ? undefined : unb64(kv.value ?? ''),
      revision: Number(r.header?.revision ?? 0),
      modRevision: Number(kv?.mod_revision ?? 0),
    }
  }

  async put(key: string, value: string, timeoutMs = 5_000): Promise<number> {
    const r = (await this.#call('/v3/kv/put', { key: b64(key), value: b64(value) }, timeoutMs)) as { header?: { revision?: string } }
    return Number(r.header?.revision ?? 0)
  }

  async delete(key: string, timeoutMs = 5_000): Promise<void> {
    await this.#call('/v3/kv/deleterange', { key: b64(key) }, timeoutMs)
  }

  /**
   * Watches one key from `fromRevision`; calls `onEvent` per change and resolves when the stream ends
   * (etcd gone, watch cancelled or compacted, or `signal` aborted). The caller re-reads and watches again.
   */
  watch(key: string, fromRevision: number, onEvent: (event: EtcdEvent) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify({ create_request: { key: b64(key), start_revision: String(fromRevision) } })
      const req = http.request(new URL('/v3/watch', this.endpoint), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        signal,
      })
      let settled = false
      const end = (err?: Error) => {
        if (settled) return
        settled = true
        req.destroy()
        if (err === undefined || signal.aborted) resolve()
        else reject(err)
      }
      req.on('error', (err) => end(err))
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          res.resume()
          return end(new Error(`etcd ${this.endpoint.origin} answered ${res.statusCode} to a watch`))
        }
        let buffered = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          buffered += chunk
          if (buffered.length > MAX_RESPONSE_BYTES) return end(new Error(`etcd watch message over ${MAX_RESPONSE_BYTES} bytes`))
          for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
            const line = buffered.slice(0, nl).trim()
            buffered = buffered.slice(nl + 1)
            if (line.length === 0) continue
            let message: WatchMessage
            try {
              message = JSON.parse(line) as WatchMessage
            } catch {
              return end(new Error('etcd watch sent a line that is not JSON'))
            }
            if (message.error !== undefined)
              return end(new Error(`etcd watch failed: ${message.error.message ?? JSON.stringify(message.error)}`))
            const result = message.result
            if (result?.canceled === true || result?.compact_revision !== undefined)
              return end(new Error(`etcd watch cancelled${result.cancel_reason ? `: ${result.cancel_reason}` : ''}`))
            for (const e of result?.events ?? []) {
              const modRevision = Number(e.kv?.mod_revision ?? 0)
              if (e.type === 'DELETE') onEvent({ type: 'delete', modRevision })
              else onEvent({ type: 'put', value: unb64(e.kv?.value ?? ''), modRevision })
            }
          }
        })
        res.on('end', () => end(new Error(`etcd ${this.endpoint.origin} ended the watch`)))
        res.on('error', (err) => end(err))
      })
      req.end(body)
    })
  }

  close(): void {
    this.#agent.destroy()
  }

  #call(path: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify(payload)
      const req = http.request(new URL(path, this.endpoint), {
        method: 'POST',
        agent: this.#agent,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      })
      req.on('timeout', () => req.destroy(new Error(`etcd ${this.endpoint.origin}${path} did not answer within ${timeoutMs}ms`)))
      req.on('error', reject)
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`etcd answer over ${MAX_RESPONSE_BYTES} bytes`))
          else chunks.push(c)
        })
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          if (res.statusCode !== 200)
            return reject(new Error(`etcd ${this.endpoint.origin}${path} answered ${res.statusCode}: ${text.slice(0, 300)}`))
          try {
            resolve(JSON.parse(text))
          } catch {
            reject(new Error(`etcd ${this.endpoint.origin}${path} answered something that is not JSON`))
          }
        })
      })
      req.end(body)
    })
  }
}

interface WatchMessage {
  error?: { message?: string }
  result?: {
    canceled?: boolean
    cancel_reason?: string
    compact_revision?: string
    events?: { type?: string; kv?: { value?: string; mod_revision?: string } }[]
  }
}
