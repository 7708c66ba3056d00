/** createMesh: the outbound stack, the undici Dispatcher, mesh.fetch and mesh.install(). */
export {}
