/** Endpoint sources: static, DNS, file and control plane. */
export type { EndpointSourceOptions } from './endpoint-source.js'
export { createEndpointSource } from './endpoint-source.js'
export type { EndpointInput } from './static-source.js'
export { staticSource } from './static-source.js'
