/** Route matching, weighted splits, header routing, fault injection and mirroring. */

export type { ImportNote, ImportOptions, ImportResult } from './import/import-mesh-config.js'
export { IMPORT_DEFAULTS, importMeshConfig } from './import/import-mesh-config.js'
export type { MirrorOptions } from './mirror.js'
export { MIRROR_DEFAULTS, mirror } from './mirror.js'
export type { RouteOptions } from './route.js'
export { FAULT_HEADERS, route } from './route.js'
