/**
 * Finds the OpenTelemetry tracer to make spans with: the provider passed in, else the one
 * registered globally through `@opentelemetry/api` (looked up per call, so registering one later
 * works), else none — and with none, weft only propagates ids and makes no span objects at all.
 */
import { ProxyTracerProvider, type Tracer, type TracerProvider, trace } from '@opentelemetry/api'

const NAME = '@weft/trace'
const VERSION = '0.1.0'
/** The API's no-op provider: what the global proxy delegates to until an SDK registers. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate()

/** Returns the tracer in force now, or `undefined` when no SDK is present. */
export type TracerLookup = () => Tracer | undefined

export function tracerLookup(provider: TracerProvider | undefined): TracerLookup {
  if (provider !== undefined) {
    const tracer = provider.getTracer(NAME, VERSION)
    return () => tracer
  }
  let delegate: TracerProvider | undefined
  let tracer: Tracer | undefined
  return () => {
    const global = trace.getTracerProvider() as TracerProvider & { getDelegate?: () => TracerProvider }
    const current = typeof global.getDelegate === 'function' ? global.getDelegate() : global
    if (current !== delegate) {
      delegate = current
      tracer = current === NOOP_PROVIDER ? undefined : current.getTracer(NAME, VERSION)
    }
    return tracer
  }
}
