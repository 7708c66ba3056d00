/** The reference control plane: serves policy from a directory or etcd with ETags and long polls, and signs certificates. */

export type { CertificateAuthorityOptions } from './certificates.js'
export { CERTIFICATES_DEFAULTS } from './certificates.js'
export type { ControlPlane, ControlPlaneOptions, ControlPlaneStatus } from './control-plane.js'
export { CONTROL_PLANE_DEFAULTS, createControlPlane } from './control-plane.js'
export type { DirectoryStoreOptions } from './directory-store.js'
export { DIRECTORY_STORE_DEFAULTS, directoryStore, POLICY_FILES } from './directory-store.js'
export type { EtcdStoreOptions } from './etcd-store.js'
export { ETCD_STORE_DEFAULTS, etcdStore } from './etcd-store.js'
export type { PolicySnapshot, PolicyStore, StoreContext, StoreLogger, StoreProblem } from './store.js'
