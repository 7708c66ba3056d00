/** createMesh: builds a stack per service from policy and offers it as a Dispatcher, a fetch and a global install. */
import type { Server } from 'node:http'
import type { TlsOptions } from 'node:tls'
import type { TracerProvider } from '@opentelemetry/api'
import type { AgentStatus } from '@weft/agent'
import type { BalancerSnapshot } from '@weft/balancer'
import {
  buildStack,
  type Call,
  type CallScope,
  type Clock,
  createTimerQueue,
  type Duration,
  describeStack,
  type EndpointSource,
  type Handler,
  parseDuration,
  systemClock,
  WeftError,
} from '@weft/core'
import { inboundDeadlineStats } from '@weft/deadline'
import { createEndpointSource } from '@weft/discovery'
import { type CircuitStateRow, createMeshMetrics, type EndpointStateRow, type MeshMetrics } from '@weft/metrics'
import { defaultServicePolicy, loadPolicy, type Policy, type PolicyInput } from '@weft/policy'
import {
  type AdminOptions,
  type AdminServer,
  createAdminServer,
  createInbound,
  type Inbound,
  type InboundMesh,
  type RequestListener,
  serverLayers,
  weftHandler,
} from '@weft/server'
import type { TraceOptions } from '@weft/trace'
import type { Registry } from 'prom-client'
import { Agent, type Dispatcher, getGlobalDispatcher, setGlobalDispatcher, fetch as undiciFetch } from 'undici'
import { type EgressEndpoint, MeshDispatcher } from './dispatcher.js'
import { normalizeHeaders } from './headers.js'
import { type IdentityOption, MeshTls, type MtlsMode } from './mtls.js'
import { type FollowedPolicy, followControlPlane, isPolicySource, type PolicySource } from './policy-source.js'
import { clientLayers, type MeshContext, type ServiceContext, type ServiceHandles } from './stack.js'
import { Transport } from './transport.js'

export interface MeshOptions {
  /** This process's service name. */
  service: string
  /**
   * A policy object, a path to a YAML/JSON file (relative to `process.cwd()`), YAML/JSON text, or
   * `{ source, cache?, startTimeout? }` to follow a control plane through the mesh-agent.
   */
  policy: PolicyInput | PolicySource
  /** Clock for every timer of the mesh; tests pass a ManualClock. Default `systemClock`. */
  clock?: Clock
  /** How long `close()` waits for in-flight calls (bodies included) before cutting them. Default `30s`. */
  drainTimeout?: Duration
  /**
   * This service's identity: `{ dir }` holding `cert.pem`, `key.pem`, `bundle.pem` (watched and
   * rotated live), or `{ cert, key, bundle }` PEM strings. Without it calls are plaintext and
   * STRICT services cannot be called. Default none.
   */
  identity?: IdentityOption
  /** prom-client Registry for weft's metrics. Default: a registry of the mesh's own (never the global default). */
  registry?: Registry
  /** OpenTelemetry TracerProvider for spans. Default: the one registered through `@opentelemetry/api`, if any; with none weft only propagates. */
  tracerProvider?: TracerProvider
  /** Extra trace header formats (`['b3']`, `['b3multi']`) and whether traces weft starts are sampled. Default W3C only, sampled. */
  tracing?: Omit<TraceOptions, 'tracerProvider'>
}

export const MESH_DEFAULTS = { drainTimeout: 30_000 } as const

/** A mesh: this process's view of every service it calls, and of its own. */
export interface Mesh extends InboundMesh {
  /** This process's service name. */
  readonly service: string
  /** The policy in force. */
  readonly policy: Policy
  /** An undici Dispatcher: `undici.request(url, { dispatcher })` and `fetch(url, { dispatcher })`. */
  readonly dispatcher: Dispatcher
  /** fetch-compatible; failures reject with `TypeError('fetch failed')` whose `cause` is the WeftError. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>
  /** Makes the mesh the global dispatcher (Node's own `fetch` included); returns a function that undoes it. */
  install(): () => void
  /** Validates and swaps the policy atomically; resolves to the new version, rejects with WEFT_POLICY_INVALID. */
  update(policy: PolicyInput): Promise<string>
  /** The client and server stack order, with the reason for each layer. */
  stack(): { client: { role: string; why: string; active: boolean }[]; server: { role: string; why: string; active: boolean }[] }
  /** Rejects calls started after it with WEFT_MESH_CLOSED, drains in-flight calls, closes pools. Same promise every time. */
  close(): Promise<void>
  /**
   * A node server for this service in its policy's mode (`services.<service>.mtls`): STRICT,
   * PERMISSIVE (mTLS and plaintext on one port) or DISABLE; runs the server stack around
   * `listener` (an Express app too), so `currentCall().peer` is set. Call `.listen()` on it.
   * `options.mode` sets this port's mode instead of the policy's (Istio's port-level mTLS).
   */
  createServer(listener: RequestListener, options?: { mode?: MtlsMode }): Server
  /** STRICT TLS options for an `https.createServer` built by hand; throws without an identity. */
  serverOptions(): TlsOptions
  /** This service's SPIFFE ID, from its certificate; `undefined` without an identity. */
  readonly identity: string | undefined
  /** The mesh-agent's status when the policy follows a control plane (version, last sync, last error), for `/config`; else `undefined`. */
  policyStatus(): AgentStatus | undefined
  /** Per service, the balancer's view of each endpoint: health, ejection, in flight, latency. */
  endpoints(): Record<string, BalancerSnapshot | undefined>
  /** The prom-client Registry weft's metrics are in (the one passed to createMesh, or the mesh's own). */
  readonly registry: Registry
  /**
   * Serves `/metrics`, `/config`, `/stack`, `/endpoints`, `/tap`, `/ready`, `/live` on
   * `host:port` (default `127.0.0.1:9990`; port 0 picks a free one). Closed with the mesh.
   */
  admin(options?: AdminOptions): Promise<AdminServer>
}

interface ServiceStack {
  readonly handler: Handler
  readonly roles: readonly string[]
  readonly source: EndpointSource
  /** The stateful layers' handles (balancer, breaker). */
  readonly handles: ServiceHandles
}

interface Generation {
  readonly policy: Policy
  readonly services: ReadonlyMap<string, ServiceStack>
  readonly inbound: Inbound
  /** Hosts that are not mesh services: traced and measured (as service `egress`), otherwise unchanged. */
  readonly egress: Handler
}

/** The layers an egress call passes: no routing, retries or balancing for a host weft knows nothing of. */
const EGRESS_ROLES = new Set(['trace', 'metrics'])
const egressLayers = clientLayers.filter((l) => EGRESS_ROLES.has(l.role))

const NO_TRIES: readonly string[] = Object.freeze([])
/** The service label of egress calls: one bounded label for every host outside the mesh. */
const EGRESS_SERVICE = 'egress'
const NO_ENDPOINTS: EndpointSource = { current: () => [], subscribe: () => () => {}, close: () => {} }

/** Creates a mesh; resolves once its policy is loaded and its stacks are built. */
export async function createMesh(options: MeshOptions): Promise<Mesh> {
  if (typeof options?.service !== 'string' || options.service.length === 0) {
    throw new WeftError('WEFT_INVALID_ARGUMENT', 'createMesh: `service` (this process’s service name) is required')
  }
  const identityDir =
    typeof options.identity === 'object' && options.identity !== null && 'dir' in options.identity ? options.identity.dir : undefined
  const followed = isPolicySource(options.policy)
    ? await followControlPlane(options.service, options.policy, { clock: options.clock, identityDir })
    : undefined
  try {
    const policy = followed?.first ?? (await loadPolicy(options.policy))
    const tls = await MeshTls.create(options.identity)
    const mesh = new MeshImpl(options, policy, tls, followed)
    await followed?.attach((document) => mesh.update(document))
    return mesh
  } catch (err) {
    await followed?.agent.close()
    throw err
  }
}

class MeshImpl implements Mesh {
  readonly service: string
  readonly dispatcher: MeshDispatcher
  readonly #context: MeshContext
  readonly #tls: MeshTls
  readonly #transport = new Transport({ poolOptionsFor: (call, endpoint) => this.#tls.poolOptionsFor(call, endpoint) })
  readonly #egress = new Agent()
  readonly #egressTerminal = this.#transport.egress(this.#egress)
  readonly #drainTimeout: number
  #generation: Generation
  #updating: Promise<unknown> = Promise.resolve()
  #inFlight = 0
  #closing: Promise<void> | undefined
  #drained: (() => void) | undefined
  readonly #followed: FollowedPolicy | undefined
  readonly #metrics: MeshMetrics
  readonly #admins = new Set<AdminServer>()
  readonly #unobserve: (() => void)[] = []

  constructor(options: MeshOptions, policy: Policy, tls: MeshTls, followed?: FollowedPolicy) {
    this.service = options.service
    this.#tls = tls
    this.#followed = followed
    const clock = options.clock ?? systemClock
    this.#drainTimeout = parseDuration(options.drainTimeout ?? MESH_DEFAULTS.drainTimeout)
    this.#metrics = createMeshMetrics({ registry: options.registry, clock })
    this.#context = {
      self: options.service,
      clock,
      timers: createTimerQueue(clock),
      metrics: this.#metrics,
      tracing: { ...options.tracing, tracerProvider: options.tracerProvider },
    }
    this.#generation = this.#build(policy)
    this.#unobserve.push(
      this.#metrics.observeEndpoints(() => this.#endpointRows()),
      this.#metrics.observeCircuits(() => this.#circuitRows()),
      // the inbound stack's deadline layer counts into the process-wide stats
      this.#metrics.observeInboundDeadlines(() => inboundDeadlineStats),
      this.#metrics.observeConnections(() => this.#tls.servers()),
    )
    this.dispatcher = new MeshDispatcher({
      handlerFor: (host) => this.#generation.services.get(host)?.handler,
      egressHandler: () => this.#generation.egress,
      callFor: (host, opts, authority, scope, egress) => this.#callFor(host, opts, authority, scope, egress),
      egress: this.#egress,
      enter: () => this.#enter(),
      leave: () => this.#leave(),
    })
  }

  get policy(): Policy {
    return this.#generation.policy
  }

  get inbound(): Inbound {
    return this.#generation.inbound
  }

  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    return undiciFetch(input as Parameters<typeof undiciFetch>[0], {
      ...(init as object),
      dispatcher: this.dispatcher,
    }) as unknown as Promise<Response>
  }

  install(): () => void {
    const g = globalThis as unknown as Record<symbol, unknown>
    const v2 = Symbol.for('undici.globalDispatcher.2')
    const v1 = Symbol.for('undici.globalDispatcher.1')
    if (getGlobalDispatcher() === this.dispatcher) return () => {}
    const previous = { v2: g[v2], v1: g[v1] }
    setGlobalDispatcher(this.dispatcher)
    let undone = false
    return () => {
      if (undone) return
      undone = true
      // restore exactly what was there, Node's own fetch dispatcher (the v1 slot) included
      g[v2] = previous.v2
      g[v1] = previous.v1
    }
  }

  update(input: PolicyInput): Promise<string> {
    const next = this.#updating.then(async () => {
      if (this.#closing !== undefined) throw new WeftError('WEFT_MESH_CLOSED', `mesh ${this.service} is closed; update refused`)
      const policy = await loadPolicy(input)
      const previous = this.#generation
      this.#generation = this.#build(policy)
      this.#retire(previous)
      return policy.version
    })
    this.#updating = next.catch(() => {})
    return next
  }

  stack() {
    const client = describeStack(clientLayers)
    // a layer with nothing to do for a service is left out of its stack: active when some service runs it
    const activeClient = new Set<string>()
    for (const s of this.#generation.services.values()) for (const role of s.roles) activeClient.add(role)
    const activeServer = new Set(this.#generation.inbound.roles)
    return {
      client: [
        ...client.map((l) => ({ ...l, active: activeClient.has(l.role) })),
        { role: 'transport', why: 'an undici Pool per endpoint, reused', active: true },
      ],
      server: describeStack(serverLayers).map((l) => ({ ...l, active: activeServer.has(l.role) })),
    }
  }

  get identity(): string | undefined {
    return this.#tls.identity()?.spiffeId
  }

  createServer(listener: RequestListener, options: { mode?: MtlsMode } = {}): Server {
    const fixed = options.mode
    return this.#tls.createServer(
      weftHandler(this, listener),
      fixed === undefined ? () => this.#generation.inbound.context.service.mtls : () => fixed,
    )
  }

  serverOptions(): TlsOptions {
    return this.#tls.serverOptions()
  }

  policyStatus(): AgentStatus | undefined {
    return this.#followed?.agent.status()
  }

  endpoints(): Record<string, BalancerSnapshot | undefined> {
    const out: Record<string, BalancerSnapshot | undefined> = {}
    for (const [name, s] of this.#generation.services) out[name] = s.handles.balancer?.snapshot()
    return out
  }

  /** The rows of weft_endpoint_state and weft_circuit_state, read at scrape time. */
  *#endpointRows(): Iterable<EndpointStateRow> {
    for (const [service, s] of this.#generation.services) {
      for (const e of s.handles.balancer?.snapshot().endpoints ?? []) yield { service, endpoint: e.address, state: e.health }
    }
  }

  *#circuitRows(): Iterable<CircuitStateRow> {
    for (const [service, s] of this.#generation.services) {
      const state = s.handles.breaker?.state()
      if (state !== undefined) yield { service, state: state === 'half-open' ? 'half_open' : state }
    }
  }

  get registry(): Registry {
    return this.#metrics.registry
  }

  async admin(options?: AdminOptions): Promise<AdminServer> {
    const server = await createAdminServer(
      {
        registry: this.#metrics.registry,
        tap: this.#metrics.tap,
        config: () => {
          const { version, document, file } = this.#generation.policy
          return {
            service: this.service,
            version,
            source: this.#followed === undefined ? 'local' : 'control-plane',
            file,
            agent: this.policyStatus(),
            document,
          }
        },
        stack: () => this.stack(),
        endpoints: () => this.endpoints(),
        ready: () => this.#closing === undefined,
      },
      options,
    )
    this.#admins.add(server)
    const close = server.close.bind(server)
    return Object.assign(server, {
      close: () => {
        this.#admins.delete(server)
        return close()
      },
    })
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    await this.#followed?.agent.close()
    if (this.#inFlight > 0) {
      let timer: { cancel(): void } | undefined
      const drained = new Promise<boolean>((resolve) => {
        this.#drained = () => resolve(true)
        timer = this.#context.clock.setTimer(() => resolve(false), this.#drainTimeout)
      })
      const clean = await drained
      timer?.cancel()
      if (!clean) await this.#transport.destroy()
    }
    await this.#updating
    this.#retire(this.#generation)
    this.#context.timers.close()
    await Promise.all([this.#transport.close(), this.#egress.close(), ...[...this.#admins].map((a) => a.close())])
    this.#tls.close()
    for (const stop of this.#unobserve) stop()
  }

  #enter() {
    if (this.#closing !== undefined)
      throw new WeftError('WEFT_MESH_CLOSED', `mesh ${this.service} is closed; call refused`, { details: { service: this.service } })
    this.#inFlight++
  }

  #leave() {
    if (--this.#inFlight === 0) this.#drained?.()
  }

  #callFor(host: string, opts: Dispatcher.DispatchOptions, authority: string, scope: CallScope, egress?: EgressEndpoint): Call {
    const body = opts.body ?? null
    return {
      direction: 'outbound',
      service: host,
      method: (opts.method ?? 'GET').toUpperCase(),
      path: opts.path,
      authority,
      headers: normalizeHeaders(opts.headers as Parameters<typeof normalizeHeaders>[0], authority, egress === undefined),
      body,
      replayable: body === null || typeof body === 'string' || body instanceof Uint8Array,
      // no AbortController per call: the exchange is the scope, and a signal is made only when a layer asks
      signal: undefined,
      scope,
      deadline: undefined,
      attempt: 1,
      route: undefined,
      subset: undefined,
      endpoint: egress,
      tried: NO_TRIES,
      trace: undefined,
      peer: undefined,
      startedAt: this.#context.clock.monotonic(),
      // every field present from the start, in copyCall's order: one hidden class for every call
      record: undefined,
      span: undefined,
      native: undefined,
    }
  }

  /** Builds every stack for a policy version: per-service state is made here, once. */
  #build(policy: Policy): Generation {
    const services = new Map<string, ServiceStack>()
    for (const name of Object.keys(policy.services)) {
      const service = policy.services[name]
      if (service === undefined) continue
      const source = createEndpointSource(service, { clock: this.#context.clock })
      const handles: ServiceHandles = {}
      const previous = this.#generation?.services.get(name.toLowerCase())?.handles
      const ctx: ServiceContext = { mesh: this.#context, service, endpoints: source, handles, previous }
      const { handler, roles } = buildStack(clientLayers, ctx, this.#transport.handler)
      services.set(name.toLowerCase(), { handler, roles, source, handles })
    }
    const own = policy.services[this.service] ?? defaultServicePolicy(policy, this.service)
    const inbound = createInbound({
      self: this.service,
      service: own,
      policy,
      clock: this.#context.clock,
      timers: this.#context.timers,
      metrics: this.#context.metrics,
      tracing: this.#context.tracing,
    })
    const egressService = { ...defaultServicePolicy(policy, EGRESS_SERVICE), name: EGRESS_SERVICE }
    const egress = buildStack(
      egressLayers,
      { mesh: this.#context, service: egressService, endpoints: NO_ENDPOINTS, handles: {}, previous: undefined },
      this.#egressTerminal,
    ).handler
    // last: only a policy whose stacks all built decides how new connections are made
    this.#tls.use(policy)
    return { policy, services, inbound, egress }
  }

  /** Lets the previous generation's per-service state go once the new one is in force. */
  #retire(previous: Generation) {
    for (const s of previous.services.values()) {
      s.source.close()
      s.handles.balancer?.close()
      s.handles.breaker?.close()
    }
  }
}
