/**
 * `@opentelemetry/api`, loaded when weft may first make a span: a tracer provider passed in, or one
 * registered globally (an SDK loads the API to register it). A process without an SDK only
 * propagates ids and never loads the API (about 1.3 MB of RSS).
 */
import { createRequire } from 'node:module'
import type * as Otel from '@opentelemetry/api'

/** Where the API keeps what is registered with it (its major version in the key): absent until something registers. */
const REGISTERED = Symbol.for('opentelemetry.js.api.1')

let api: typeof Otel | undefined

// The API's values the span code uses, bound when it loads. They are read only where a span is made,
// and no tracer is handed out before the API is loaded (tracer.ts).
export let ROOT_CONTEXT: Otel.Context
export let SpanKind: typeof Otel.SpanKind
export let SpanStatusCode: typeof Otel.SpanStatusCode
export let otel: typeof Otel.trace
export let createTraceState: typeof Otel.createTraceState

/** The API; the first call loads it (synchronously, once: when a tracer is first looked for, never per span). */
export function otelApi(): typeof Otel {
  if (api === undefined) {
    // tsup shims import.meta.url in the CJS build
    const loaded = createRequire(import.meta.url)('@opentelemetry/api') as typeof Otel
    ROOT_CONTEXT = loaded.ROOT_CONTEXT
    SpanKind = loaded.SpanKind
    SpanStatusCode = loaded.SpanStatusCode
    otel = loaded.trace
    createTraceState = loaded.createTraceState
    api = loaded
  }
  return api
}

/** Whether anything was ever registered with the API (a tracer provider, a context manager, …); if not, there is no provider to look up. */
export function otelRegistered(): boolean {
  return (globalThis as Record<symbol, unknown>)[REGISTERED] !== undefined
}
