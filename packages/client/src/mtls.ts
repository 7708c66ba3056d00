/**
 * The mesh's identity and what it does on both sides: the transport's pool options per service
 * (the connector, mTLS verified by SPIFFE ID or plaintext as `services.<name>.mtls` says, and the
 * cap of `connectionPool.maxConnections`) and the inbound server in this service's own mode.
 */
import type { Server } from 'node:http'
import type { TlsOptions } from 'node:tls'
import { type Call, type Endpoint, WeftError } from '@weft/core'
import {
  type Connector,
  createConnector,
  createIdentitySource,
  createMeshServer,
  emptyMeshServerStats,
  expectedPeerFor,
  type Identity,
  type IdentityOptions,
  type IdentitySource,
  type MeshServerStats,
  type MtlsMode,
  meshServerStats,
  type RefusalReason,
  type RequestListener,
  serverTlsOptions,
} from '@weft/mtls'
import type { Policy, ServicePolicy } from '@weft/policy'
import type { Pool } from 'undici'

export type { MtlsMode }

/** `createMesh({ identity })`: a directory (watched), PEM strings, or a source the agent keeps up to date. */
export type IdentityOption = IdentityOptions | IdentitySource

/** What the transport is told for one endpoint: the pool key and its options (the TLS connector, the connection cap). */
export interface PoolChoice {
  readonly key: string
  readonly options: Pool.Options
}

const PLAINTEXT: Pool.Options = {}

/** One mesh's mTLS state; the per-endpoint choices are built once per policy version. */
export class MeshTls {
  /** The counts of each server `createServer` made, from its creation until it closes. */
  readonly #open = new Set<MeshServerStats>()
  /** What the closed servers counted, as one running total: nothing of theirs is kept but their numbers. */
  readonly #closed = emptyMeshServerStats()
  readonly #source: IdentitySource | undefined
  readonly #owned: boolean
  #services = new Map<string, Map<string, PoolChoice>>()
  #policy: Policy | undefined

  private constructor(source: IdentitySource | undefined, owned: boolean) {
    this.#source = source
    this.#owned = owned
  }

  /** Loads the identity (rejecting with `WEFT_CERTIFICATE_INVALID` naming the file), or none. */
  static async create(option: IdentityOption | undefined): Promise<MeshTls> {
    if (option === undefined) return new MeshTls(undefined, false)
    if (typeof (option as IdentitySource).current === 'function') return new MeshTls(option as IdentitySource, false)
    return new MeshTls(await createIdentitySource(option as IdentityOptions), true)
  }

  /** This process's identity, or `undefined`. */
  identity(): Identity | undefined {
    return this.#source?.current()
  }

  /** Takes a new policy version; choices are rebuilt lazily, per service, on first use. */
  use(policy: Policy): void {
    if (policy === this.#policy) return
    this.#policy = policy
    this.#services = new Map()
  }

  /** The transport's `poolOptionsFor`: per call only two map lookups. */
  readonly poolOptionsFor = (call: Call, endpoint: Endpoint): PoolChoice => {
    let byEndpoint = this.#services.get(call.service)
    if (byEndpoint === undefined) this.#services.set(call.service, (byEndpoint = new Map()))
    let choice = byEndpoint.get(endpoint.address)
    if (choice === undefined) byEndpoint.set(endpoint.address, (choice = this.#choose(call.service, endpoint)))
    return choice
  }

  #choose(name: string, endpoint: Endpoint): PoolChoice {
    const service = this.#policy === undefined ? undefined : findService(this.#policy, name)
    const choice = this.#connect(name, service, endpoint)
    // a service that never has more than maxInFlight calls in flight never needs more connections to
    // one endpoint, and an uncapped pool would open up to twice that (one is not free again until the
    // turn after its reply ends)
    const max = Math.min(
      service?.connectionPool.maxConnections ?? Number.POSITIVE_INFINITY,
      service?.concurrency.maxInFlight ?? Number.POSITIVE_INFINITY,
    )
    if (max === Number.POSITIVE_INFINITY) return choice
    // the cap is part of the key: a service with another cap, or a policy that changes it, gets its own pools
    return { key: `${choice.key}|connections=${max}`, options: { ...choice.options, connections: max } }
  }

  #connect(name: string, service: ServicePolicy | undefined, endpoint: Endpoint): PoolChoice {
    const mode: MtlsMode = service?.mtls ?? 'PERMISSIVE'
    const source = this.#source
    if (mode === 'DISABLE' || (mode === 'PERMISSIVE' && source === undefined)) return { key: endpoint.address, options: PLAINTEXT }
    if (source === undefined) {
      // STRICT and no identity: fail every connection with the reason rather than ever send plaintext
      return { key: `${endpoint.address}|strict-without-identity`, options: { connect: refuse(name) } }
    }
    const expected = expectedPeerFor(service?.name ?? name, service?.identity)
    const connect: Connector = createConnector(source, expected, { service: name })
    // the expected identity is part of the key: a policy change of it opens new pools, never reuses a verified one
    return { key: `${endpoint.address}|mtls|${typeof expected === 'string' ? expected : ''}`, options: { connect } }
  }

  /** `mesh.createServer`: a node server for this service's own mode, read per connection. */
  createServer(listener: RequestListener, modeOf: () => MtlsMode): Server {
    const server = createMeshServer(listener, { identity: this.#source, mode: modeOf })
    const counts = meshServerStats(server)
    if (counts === undefined) return server
    this.#open.add(counts)
    // a closed server's counts move into the running total, so the connection counters never go
    // back and a process that makes servers without end keeps one total, not an entry per server
    server.on('close', () => {
      if (this.#open.delete(counts)) addCounts(this.#closed, counts, 1)
    })
    // a server that listens again takes its counts back out of the total to go on from them: the sum is unchanged
    server.on('listening', () => {
      if (this.#open.has(counts)) return
      addCounts(this.#closed, counts, -1)
      this.#open.add(counts)
    })
    return server
  }

  /** For the connection metrics, what the servers `createServer` made accepted and refused: the closed ones' total, then each open one. */
  *servers(): Iterable<MeshServerStats> {
    yield this.#closed
    yield* this.#open
  }

  /** `mesh.serverOptions()`: STRICT TLS options for a server built by hand. */
  serverOptions(): TlsOptions {
    const identity = this.identity()
    if (identity === undefined) {
      throw new WeftError('WEFT_CERTIFICATE_INVALID', 'mesh.serverOptions() needs an identity: pass createMesh({ identity: { dir } })')
    }
    return serverTlsOptions(identity, 'STRICT')
  }

  close(): void {
    if (this.#owned) this.#source?.close()
  }
}

/** Adds `counts` into `total` (`sign` 1), or takes them out of it (`sign` -1). */
function addCounts(total: MeshServerStats, counts: MeshServerStats, sign: 1 | -1): void {
  total.mtls += sign * counts.mtls
  total.tls += sign * counts.tls
  total.plaintext += sign * counts.plaintext
  for (const reason of Object.keys(counts.refused) as RefusalReason[]) total.refused[reason] += sign * counts.refused[reason]
}

function findService(policy: Policy, name: string) {
  const exact = policy.services[name]
  if (exact !== undefined) return exact
  for (const key of Object.keys(policy.services)) if (key.toLowerCase() === name) return policy.services[key]
  return undefined
}

function refuse(service: string): Connector {
  return (_request, callback) => {
    const err = new WeftError(
      'WEFT_CERTIFICATE_INVALID',
      `${service} accepts only mTLS (mtls: STRICT) but this mesh has no identity: pass createMesh({ identity: { dir } })`,
      { details: { service } },
    )
    queueMicrotask(() => callback(err, null))
    // undici wants a socket back; it is never used because the callback reports the failure
    return undefined as unknown as ReturnType<Connector>
  }
}
