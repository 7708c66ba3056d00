/** One mesh's metrics: the registry they are served from, the counts behind them, and the tap. */
import { createRequire } from 'node:module'
import { type Clock, systemClock, WeftError } from '@weft/core'
import type { Registry } from 'prom-client'
import { registerMetrics } from './exposition.js'
import { boundsInMs, DEFAULT_BUCKETS } from './histogram.js'
import { type CircuitStateRow, type ConnectionCounts, type DeadlineCounts, type EndpointStateRow, MetricsStore } from './store.js'
import { Tap } from './tap.js'

export interface MeshMetricsOptions {
  /** The prom-client Registry to register in. Default: a new one of weft's own (never the global default). */
  registry?: Registry
  /** Histogram bucket upper bounds, in seconds. Default `[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`. */
  buckets?: readonly number[]
  /** Measures latency (`monotonic()`) and stamps tap events (`now()`). Default `systemClock`. */
  clock?: Clock
}

export const METRICS_DEFAULTS = { buckets: DEFAULT_BUCKETS } as const

export interface MeshMetrics {
  /** Where the metrics are registered; serve it at `/metrics`. */
  readonly registry: Registry
  /** Live call summaries, for `/tap`. */
  readonly tap: Tap
  readonly clock: Clock
  /** @internal The counts the layers write. */
  readonly store: MetricsStore
  /** Adds a scrape-time source of `weft_endpoint_state` rows (the balancer's endpoints); returns a remover. */
  observeEndpoints(source: () => Iterable<EndpointStateRow>): () => void
  /** Adds a scrape-time source of `weft_circuit_state` rows (the breakers); returns a remover. */
  observeCircuits(source: () => Iterable<CircuitStateRow>): () => void
  /**
   * Adds a scrape-time source of the inbound deadline counts (`weft_deadline_headers_invalid_total`,
   * `weft_inbound_deadlines_total`); returns a remover. Sources answering the same object count it once.
   */
  observeInboundDeadlines(source: () => DeadlineCounts): () => void
  /**
   * Adds a scrape-time source of mesh servers' connection counts (`weft_inbound_connections_total`,
   * `weft_inbound_connections_refused_total`); returns a remover. Each counts object is counted once.
   */
  observeConnections(source: () => Iterable<ConnectionCounts>): () => void
}

const stores = new WeakMap<Registry, MetricsStore>()

/** Registers weft's metrics over `store` in `registry`, once per registry; meshes sharing it share the counts. */
function attach(registry: Registry, store: MetricsStore): MetricsStore {
  registerMetrics(registry, store)
  stores.set(registry, store)
  return store
}

function loadPromClient(): typeof import('prom-client') {
  // tsup shims import.meta.url in the CJS build
  return createRequire(import.meta.url)('prom-client') as typeof import('prom-client')
}

/**
 * Registers weft's metrics in a registry (the given one or a new one) and returns what the
 * layers and the admin endpoint share. Meshes given the same registry share its counts.
 */
export function createMeshMetrics(options: MeshMetricsOptions = {}): MeshMetrics {
  const clock = options.clock ?? systemClock
  const given = options.registry
  if (given !== undefined && typeof (given as Partial<Registry>)?.registerMetric !== 'function')
    throw new WeftError('WEFT_INVALID_ARGUMENT', 'metrics: `registry` must be a prom-client Registry')
  const newStore = () => {
    const buckets = options.buckets ?? METRICS_DEFAULTS.buckets
    let boundsMs: Float64Array
    try {
      boundsMs = boundsInMs(buckets)
    } catch (err) {
      throw new WeftError('WEFT_INVALID_ARGUMENT', `metrics: ${(err as Error).message}`, { cause: err })
    }
    return new MetricsStore([...buckets], boundsMs, clock.now())
  }
  // weft's own registry is made when first asked for (a scrape, the admin endpoint): the layers
  // write to the store, and prom-client (about 2 MB of RSS) loads only for someone who reads
  const store = given === undefined ? newStore() : (stores.get(given) ?? attach(given, newStore()))
  let registry: Registry | undefined = given
  return {
    get registry(): Registry {
      if (registry === undefined) {
        registry = new (loadPromClient().Registry)()
        attach(registry, store)
      }
      return registry
    },
    tap: new Tap(),
    clock,
    store,
    observeEndpoints: observer(store.endpointSources),
    observeCircuits: observer(store.circuitSources),
    observeInboundDeadlines: observer(store.deadlineSources),
    observeConnections: observer(store.connectionSources),
  }
}

/** `observe(source)` over one of the store's source sets: adds the source, answers its remover. */
function observer<T>(sources: Set<T>): (source: T) => () => void {
  return (source) => {
    sources.add(source)
    return () => sources.delete(source)
  }
}
