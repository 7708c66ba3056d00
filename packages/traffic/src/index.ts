/** Route matching, weighted splits, header routing, fault injection and mirroring. */

export type { ImportNote, ImportResult } from './import/import-mesh-config.js'
export { importMeshConfig } from './import/import-mesh-config.js'
export type { RouteOptions } from './route.js'
export { FAULT_HEADERS, ROUTE_DEFAULTS, route } from './route.js'
