/** W3C trace-context propagation and spans through @opentelemetry/api. */
export {}
