/**
 * Endpoints from DNS: A, AAAA or SRV records through node:dns's `Resolver`, looked up again when
 * the answer's TTL runs out. A failed or empty lookup keeps the last good answer (a DNS hiccup must
 * not empty a service) and is tried again sooner.
 */
import { Resolver } from 'node:dns/promises'
import { type Clock, type Endpoint, systemClock, type TimerHandle, WeftError } from '@weft/core'
import { type DiscoverySource, EndpointList } from './discovery-source.js'
import { formatAddress } from './static-source.js'

export interface DnsSourceOptions {
  /** The name to look up, e.g. `payments.internal` or `_http._tcp.payments.internal` for SRV. */
  name: string
  /** Record type. Default `'A'`. */
  type?: 'A' | 'AAAA' | 'SRV'
  /** Port for A and AAAA answers (SRV records carry their own). Required for A and AAAA. */
  port?: number | undefined
  /** DNS server, `ip` or `ip:port` (`[v6]:port`). Default the system's resolvers. */
  resolver?: string | undefined
  /** Look up again this often (ms) instead of following the TTL. Default: the answer's TTL (SRV: 30 s). */
  refresh?: number | undefined
  /** Clock for refresh timers; tests pass a manual clock. Default `systemClock`. */
  clock?: Clock
  /** One lookup's time limit in ms (node:dns `timeout`, per try). Default `2000`. */
  timeout?: number
  /** Told about each failed lookup (the last good answer stays). Default: nothing. */
  onError?: (err: Error) => void
}

export const DNS_DEFAULTS = {
  type: 'A',
  timeout: 2_000,
  /** Refresh for SRV answers, whose TTL node:dns does not report. */
  srvRefresh: 30_000,
  /** A TTL is followed within these bounds, so TTL 0 cannot spin and a day-long TTL still refreshes. */
  minRefresh: 1_000,
  maxRefresh: 300_000,
  /** After a failure, try again after at most this long. */
  retryAfterFailure: 5_000,
} as const

interface Answer {
  endpoints: Endpoint[]
  /** Seconds, when the answer says. */
  ttl: number | undefined
}

export function dnsSource(options: DnsSourceOptions): DiscoverySource {
  const type = options.type ?? DNS_DEFAULTS.type
  const clock = options.clock ?? systemClock
  const name = options.name
  if (typeof name !== 'string' || name.length === 0 || name.length > 253)
    throw new WeftError('WEFT_INVALID_ARGUMENT', `dns discovery: name must be a DNS name, got ${JSON.stringify(name)}`)
  if (type !== 'SRV' && !(Number.isInteger(options.port) && (options.port as number) >= 1 && (options.port as number) <= 65535))
    throw new WeftError('WEFT_INVALID_ARGUMENT', `dns discovery of ${name}: ${type} records need a port (1-65535), got ${options.port}`)
  const resolver = new Resolver({ timeout: options.timeout ?? DNS_DEFAULTS.timeout, tries: 2 })
  if (options.resolver !== undefined) {
    try {
      resolver.setServers([options.resolver])
    } catch (cause) {
      throw new WeftError('WEFT_INVALID_ARGUMENT', `dns discovery of ${name}: bad resolver address ${JSON.stringify(options.resolver)}`, {
        cause,
      })
    }
  }

  const list = new EndpointList()
  let timer: TimerHandle | undefined
  let closed = false
  let error: Error | undefined
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => {
    markReady = resolve
  })

  async function lookup(): Promise<Answer> {
    if (type === 'A' || type === 'AAAA') {
      const records = type === 'A' ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true })
      return {
        endpoints: records.map((r) => endpoint(r.address, options.port as number, 1)),
        ttl: Math.min(...records.map((r) => r.ttl)),
      }
    }
    const records = await resolver.resolveSrv(name)
    // RFC 2782: only the most preferred priority is used while it answers; weight is the share
    const best = Math.min(...records.map((r) => r.priority))
    const chosen = records.filter((r) => r.priority === best)
    const resolved = await Promise.all(
      chosen.map(async (r) => {
        const ips = await resolveHost(r.name)
        return ips.map((ip) => endpoint(ip, r.port, Math.max(1, r.weight)))
      }),
    )
    return { endpoints: resolved.flat(), ttl: undefined }
  }

  async function resolveHost(host: string): Promise<string[]> {
    if (/^[0-9.]+$/.test(host) || host.includes(':')) return [host]
    try {
      return await resolver.resolve4(host)
    } catch {
      return await resolver.resolve6(host)
    }
  }

  async function refresh() {
    timer = undefined
    let next: number
    try {
      const answer = await lookup()
      if (closed) return
      if (answer.endpoints.length === 0) throw new Error('empty answer')
      error = undefined
      list.set(dedupeByAddress(answer.endpoints))
      next =
        options.refresh ??
        (answer.ttl === undefined ? DNS_DEFAULTS.srvRefresh : clamp(answer.ttl * 1000, DNS_DEFAULTS.minRefresh, DNS_DEFAULTS.maxRefresh))
    } catch (cause) {
      if (closed) return
      const code = (cause as { code?: string }).code
      error = new Error(`dns discovery of ${name} (${type}) failed${code ? ` with ${code}` : ''}; keeping the last good answer`, { cause })
      next = Math.min(options.refresh ?? DNS_DEFAULTS.retryAfterFailure, DNS_DEFAULTS.retryAfterFailure)
      options.onError?.(error)
    }
    markReady()
    timer = clock.setTimer(() => void refresh(), next)
  }

  void refresh()

  return {
    current: () => list.current(),
    subscribe: (l) => list.subscribe(l),
    ready: () => ready,
    lastError: () => error,
    close() {
      closed = true
      timer?.cancel()
      resolver.cancel()
      list.clear()
      markReady()
    },
  }
}

function endpoint(host: string, port: number, weight: number): Endpoint {
  return Object.freeze({ address: formatAddress(host, port), host, port, labels: Object.freeze({}), weight })
}

function dedupeByAddress(endpoints: Endpoint[]): Endpoint[] {
  const seen = new Set<string>()
  return endpoints.filter((e) => !seen.has(e.address) && seen.add(e.address) !== undefined)
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v
}
