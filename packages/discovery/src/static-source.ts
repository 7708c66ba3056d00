/** A fixed list of endpoints: the `endpoints:` of a service in policy, or any list given in code. */
import type { Endpoint, EndpointSource } from '@weft/core'
import type { EndpointPolicy } from '@weft/policy'

/** What an endpoint may be given as: the policy's shape, or just `host:port`. */
export type EndpointInput = string | (Pick<EndpointPolicy, 'address'> & Partial<Omit<EndpointPolicy, 'address'>>)

/** A source whose endpoints never change. */
export function staticSource(endpoints: readonly EndpointInput[]): EndpointSource {
  const list: readonly Endpoint[] = Object.freeze(dedupe(endpoints.map(toEndpoint)))
  return {
    current: () => list,
    subscribe: () => () => {},
    close: () => {},
  }
}

/**
 * Turns an endpoint as policy gives it (or a bare `host:port`) into a frozen core Endpoint. An IPv6
 * host is written in brackets in the address (`[::1]:8080`) and without them in `host`.
 */
export function toEndpoint(input: EndpointInput): Endpoint {
  const given = typeof input === 'string' ? { address: input } : input
  const parsed = given.host !== undefined && given.port !== undefined ? { host: given.host, port: given.port } : splitAddress(given.address)
  const host = parsed.host.startsWith('[') && parsed.host.endsWith(']') ? parsed.host.slice(1, -1) : parsed.host
  const weight = given.weight ?? 1
  if (!(Number.isFinite(weight) && weight > 0))
    throw new TypeError(`endpoint ${given.address}: weight must be a positive number, got ${weight}`)
  return Object.freeze({
    address: formatAddress(host, parsed.port),
    host,
    port: parsed.port,
    labels: Object.freeze({ ...(given.labels ?? {}) }),
    weight,
  })
}

/** `host:port` with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Splits `host:port` or `[v6]:port`; throws on anything else. */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):([0-9]{1,5})$/.exec(address)
  const port = m === null ? Number.NaN : Number(m[2])
  if (m === null || !(port >= 1 && port <= 65535)) throw new TypeError(`endpoint address ${JSON.stringify(address)}: expected host:port`)
  return { host: m[1] as string, port }
}

/** Keeps the first of endpoints that share an address: the address is the key of per-endpoint state. */
export function dedupe(endpoints: Endpoint[]): Endpoint[] {
  const seen = new Set<string>()
  return endpoints.filter((e) => !seen.has(e.address) && seen.add(e.address) !== undefined)
}
