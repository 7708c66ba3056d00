/** Chooses a service's endpoint source from its policy: DNS or a watched file when `discovery` says so, else the static list. */
import type { Clock, EndpointSource } from '@weft/core'
import type { ServicePolicy } from '@weft/policy'
import { dnsSource } from './dns-source.js'
import { fileSource } from './file-source.js'
import { staticSource } from './static-source.js'

export interface EndpointSourceOptions {
  /** Clock for DNS refresh timers; tests pass a manual clock. Default `systemClock`. */
  clock?: Clock
}

/** The endpoint source for a service, built once per stack; `close()` it when the stack is retired. */
export function createEndpointSource(
  service: Pick<ServicePolicy, 'name' | 'endpoints' | 'discovery'>,
  options: EndpointSourceOptions = {},
): EndpointSource {
  const dns = service.discovery?.dns
  if (dns !== undefined) {
    return dnsSource({
      name: dns.name,
      type: dns.type,
      port: dns.port,
      resolver: dns.resolver,
      refresh: dns.refresh,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    })
  }
  const file = service.discovery?.file
  if (file !== undefined) return fileSource({ path: file.path })
  return staticSource(service.endpoints)
}
