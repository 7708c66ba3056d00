/** Golden-signal metrics with prom-client. */
export {}
