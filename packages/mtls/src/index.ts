/** SPIFFE identities, certificate sources and rotation, the mTLS connector and authorization. */
export {}
