/** createMesh: the outbound stack, the undici Dispatcher, mesh.fetch and mesh.install(). */

export type { Mesh, MeshOptions } from './mesh.js'
export { createMesh, MESH_DEFAULTS } from './mesh.js'
export type { PolicySource } from './policy-source.js'
export type { MeshContext, ServiceContext, ServiceHandles } from './stack.js'
export { clientLayers } from './stack.js'
