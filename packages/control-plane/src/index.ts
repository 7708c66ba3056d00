/** The reference control plane: serves policy from a directory or etcd, signs certificates. */
export {}
