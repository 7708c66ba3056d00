/**
 * Finds the OpenTelemetry tracer to make spans with: the provider passed in, else the one
 * registered globally through `@opentelemetry/api` (looked up per call, so registering one later
 * works), else none — and with none, weft only propagates ids and makes no span objects at all.
 */
import type { Tracer, TracerProvider } from '@opentelemetry/api'
import { otelApi, otelRegistered } from './otel.js'

const NAME = '@weft/trace'
const VERSION = '0.1.0'
/** The API's no-op provider: what the global proxy delegates to until an SDK registers. */
let noopProvider: TracerProvider | undefined

/** Returns the tracer in force now, or `undefined` when no SDK is present. */
export type TracerLookup = () => Tracer | undefined

export function tracerLookup(provider: TracerProvider | undefined): TracerLookup {
  if (provider !== undefined) {
    otelApi() // spans will be made: their contexts and enums are the API's
    const tracer = provider.getTracer(NAME, VERSION)
    return () => tracer
  }
  let delegate: TracerProvider | undefined
  let tracer: Tracer | undefined
  return () => {
    // nothing registered with the API yet (so no SDK): no provider to look up, and no API to load
    if (!otelRegistered()) return undefined
    const otel = otelApi()
    const global = otel.trace.getTracerProvider() as TracerProvider & { getDelegate?: () => TracerProvider }
    const current = typeof global.getDelegate === 'function' ? global.getDelegate() : global
    if (current !== delegate) {
      delegate = current
      noopProvider ??= new otel.ProxyTracerProvider().getDelegate()
      tracer = current === noopProvider ? undefined : current.getTracer(NAME, VERSION)
    }
    return tracer
  }
}
