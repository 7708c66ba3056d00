/** Small, pure checks of names, header names and values, addresses and paths, each returning why a value is refused. */
import { isIP } from 'node:net'

/** RFC 9110 token: what a header name (and an HTTP method) may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** Control characters other than horizontal tab: never allowed in a header value (CR/LF would split the header). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/
/** Lower-case DNS name: labels of letters, digits and `-`, dot-separated (hostnames are case-insensitive; URLs lower-case them). */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/
/** A host in an address: a DNS name (any case). */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
/** Names the document gives to routes and subsets (they become metric labels). */
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/
/** Label keys, Kubernetes style (`app.kubernetes.io/version`). */
const LABEL_KEY = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/

export function serviceNameProblem(name: string): string | undefined {
  if (DNS_NAME.test(name)) return undefined
  return 'service name must be a lower-case DNS name: letters, digits and "-", dot-separated labels of at most 63 characters'
}

/** A name to resolve: a host name, or an SRV owner name whose labels may start with `_` (`_http._tcp.payments`). */
const LOOKUP_NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/

export function dnsNameProblem(name: string): string | undefined {
  return LOOKUP_NAME.test(name) ? undefined : 'must be a DNS name'
}

export function nameProblem(name: string, what: string): string | undefined {
  if (NAME.test(name)) return undefined
  return `${what} must be 1-63 letters, digits, ".", "_" or "-", starting and ending with a letter or digit`
}

export function labelKeyProblem(key: string): string | undefined {
  return LABEL_KEY.test(key) ? undefined : 'invalid label key: letters, digits, ".", "_", "-" and "/", at most 253 characters'
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 256) return `label value of ${value.length} characters is longer than the limit of 256`
  return CONTROL.test(value) || value.includes('\t') ? 'invalid label value: control characters' : undefined
}

export function headerNameProblem(name: string): string | undefined {
  return TOKEN.test(name) ? undefined : 'invalid header name'
}

export function headerValueProblem(value: string): string | undefined {
  return CONTROL.test(value) ? 'invalid header value' : undefined
}

export function methodProblem(method: string): string | undefined {
  return TOKEN.test(method) && method.length <= 32 ? undefined : 'invalid HTTP method'
}

export function hasControl(value: string): boolean {
  return CONTROL.test(value) || value.includes('\t')
}

/** A request path as matchers see it: starts with `/`, no query, no whitespace or control characters. */
export function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'path must start with "/"'
  if (/[\s?#]/.test(path) || hasControl(path)) return 'path must not contain whitespace, "?" or "#"'
  return undefined
}

export interface ParsedAddress {
  /** Canonical `host:port`; IPv6 in brackets. */
  address: string
  /** Without brackets. */
  host: string
  port: number
}

/** Parses `host:port` (`127.0.0.1:8080`, `payments.internal:80`, `[::1]:8080`); a string saying why when it cannot. */
export function parseAddress(input: string, what = 'address'): ParsedAddress | string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(input)
  if (m === null) return `${what} must be host:port (IPv6 as [::1]:8080), got ${JSON.stringify(input.slice(0, 80))}`
  const port = Number(m[3])
  if (port < 1 || port > 65535) return `${what} port must be 1-65535, got ${m[3]}`
  const v6 = m[1]
  if (v6 !== undefined) {
    if (isIP(v6) !== 6) return `${what} [${v6}] is not an IPv6 address`
    return { address: `[${v6}]:${port}`, host: v6, port }
  }
  const host = m[2] as string
  if (isIP(host) === 0 && (HOST_NAME.test(host) === false || /^[0-9.]+$/.test(host))) {
    return `${what} host ${JSON.stringify(host.slice(0, 80))} is neither an IP address nor a DNS name`
  }
  return { address: `${host}:${port}`, host, port }
}

/** A DNS resolver: an IP address, optionally with a port. */
export function resolverProblem(input: string): string | undefined {
  if (isIP(input) !== 0) return undefined
  const parsed = parseAddress(input, 'resolver')
  if (typeof parsed === 'string') return 'resolver must be an IP address, optionally with a port (10.0.0.2:53, [::1]:53)'
  return isIP(parsed.host) === 0 ? 'resolver must be an IP address, not a name' : undefined
}

/** A SPIFFE ID or a pattern of one with `*`; `*` alone matches anyone. */
export function principalProblem(pattern: string): string | undefined {
  if (pattern.length > 2048) return 'principal longer than 2048 characters'
  if (/\s/.test(pattern) || hasControl(pattern)) return 'principal must not contain whitespace or control characters'
  if (pattern === '*' || pattern.startsWith('spiffe://') || pattern.startsWith('*') || pattern.endsWith('*')) return undefined
  return 'principal must be a SPIFFE ID (spiffe://trust-domain/path), a pattern of one with *, or *'
}
