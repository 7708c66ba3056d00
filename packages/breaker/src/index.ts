/** Service-level circuit breaking on opossum, and concurrency limits. */
export {}
