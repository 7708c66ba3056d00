/**
 * An inbound port in a mesh mode: STRICT (mTLS only), PERMISSIVE (mTLS and plaintext on the
 * same port, told apart by the first byte: 0x16 opens a TLS handshake) or DISABLE (plaintext).
 * It is one `https.Server`, so `.listen()`, timeouts, `closeIdleConnections()` and Fastify's
 * `serverFactory` work as usual; certificates rotate live through `setSecureContext`.
 */
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { type Duration, parseDuration, WeftError } from '@weft/core'
import type { IdentitySource } from './identity-source.js'
import { tagPeer, verifyClientSocket } from './peer.js'
import { type MtlsMode, secureContextOptions, serverTlsOptions } from './server-tls.js'

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void

export interface MeshServerOptions {
  /** This process's identity. Without one only plaintext is served (and STRICT refuses everything). */
  identity?: Pick<IdentitySource, 'current' | 'onChange'> | undefined
  /** The port's mode, or a function read per connection (so a policy update applies to new connections). Default `'PERMISSIVE'`. */
  mode?: MtlsMode | (() => MtlsMode)
  /** Trust domains whose clients are accepted. Default: our own identity's trust domain. */
  trustDomains?: readonly string[]
  /** A connection must send its first byte within this time, or it is closed. Default `10s`. */
  firstByteTimeout?: Duration
  /** Told about every connection refused before the application saw it. */
  onRefused?: (refusal: RefusedConnection) => void
  /** node:http server options (`keepAliveTimeout`, `requestTimeout`, `maxHeaderSize`, …). */
  http?: ServerOptions
}

export const MESH_SERVER_DEFAULTS = { mode: 'PERMISSIVE', firstByteTimeout: 10_000 } as const

/** Why a connection was refused. */
export type RefusalReason =
  /** plaintext on a STRICT port */
  | 'plaintext'
  /** the TLS handshake failed: no client certificate under STRICT, an untrusted chain, an old TLS version, … */
  | 'handshake'
  /** the client certificate is not a valid SVID, or is in a trust domain not accepted */
  | 'certificate'
  /** nothing arrived within `firstByteTimeout` */
  | 'timeout'

export interface RefusedConnection {
  readonly reason: RefusalReason
  readonly mode: MtlsMode
  readonly remoteAddress: string | undefined
  readonly error: Error | undefined
}

/** Connections a mesh server accepted and refused since it was created. */
export interface MeshServerStats {
  /** TLS connections whose client proved a SPIFFE identity. */
  mtls: number
  /** TLS connections without a client certificate (PERMISSIVE only). */
  tls: number
  plaintext: number
  refused: Record<RefusalReason, number>
}

/** Stats with nothing counted yet: a new server's, or a running total's start. */
export function emptyMeshServerStats(): MeshServerStats {
  return { mtls: 0, tls: 0, plaintext: 0, refused: { plaintext: 0, handshake: 0, certificate: 0, timeout: 0 } }
}

const TLS_HANDSHAKE = 0x16
const stats = new WeakMap<object, MeshServerStats>()

/** What a server made by `createMeshServer` accepted and refused; `undefined` for any other server. */
export function meshServerStats(server: object): MeshServerStats | undefined {
  return stats.get(server)
}

/**
 * A node server for `listener` in a mesh mode. Call `.listen()` on it as usual. The verified
 * peer of each request is on `peerOf(req.socket)`.
 */
export function createMeshServer(listener: RequestListener, options: MeshServerOptions = {}): Server {
  const fixed = options.mode ?? MESH_SERVER_DEFAULTS.mode
  const modeOf = typeof fixed === 'function' ? fixed : () => fixed
  checkMode(modeOf())
  const firstByteTimeout = parseDuration(options.firstByteTimeout ?? MESH_SERVER_DEFAULTS.firstByteTimeout)
  const source = options.identity
  const counts = emptyMeshServerStats()
  const refuse = (socket: Socket, reason: RefusalReason, mode: MtlsMode, error?: Error) => {
    counts.refused[reason]++
    options.onRefused?.({ reason, mode, remoteAddress: socket.remoteAddress, error })
    socket.destroy()
  }

  // node:http and node:https come from process.getBuiltinModule, not imports: an ESM import of
  // node:http reads every export, and its `WebSocket` getter loads Node's own bundled undici (about
  // 2 MB of RSS) that weft never uses; and a process that serves no TLS never loads node:https
  if (source === undefined) {
    // no identity: plaintext only; a STRICT port cannot be served and refuses every connection
    const server = process.getBuiltinModule('node:http').createServer(options.http ?? {}, listener)
    server.prependListener('connection', (socket: Socket) => {
      const mode = modeOf()
      if (mode === 'STRICT') return refuse(socket, 'plaintext', mode)
      counts.plaintext++
    })
    stats.set(server, counts)
    return server
  }

  const server = process
    .getBuiltinModule('node:https')
    .createServer({ ...options.http, ...serverTlsOptions(source.current(), 'PERMISSIVE') }, listener) as HttpsServer & {
    rejectUnauthorized: boolean
  }
  const tlsListener = onlyListener(server, 'connection', 'tlsConnectionListener')
  const httpListener = onlyListener(server, 'secureConnection', 'connectionListener')
  server.removeListener('connection', tlsListener)
  const trustDomains = () => options.trustDomains ?? [source.current().trustDomain]

  server.on('connection', (socket: Socket) => {
    const mode = modeOf()
    if (mode === 'DISABLE') {
      counts.plaintext++
      httpListener.call(server, socket)
      return
    }
    // A timer of our own, not socket.setTimeout: a socket's timeout, even cleared, stays on it, and
    // node's TLS and HTTP code then re-arms it on every read and write of the connection's life
    // (about 5 % of the server's CPU per request over keep-alive TLS, measured in instructions).
    const timer = setTimeout(() => {
      socket.removeListener('data', onFirst)
      socket.removeListener('close', onEarlyClose)
      refuse(socket, 'timeout', mode)
    }, firstByteTimeout)
    timer.unref()
    const onEarlyError = () => socket.destroy()
    const onEarlyClose = () => clearTimeout(timer)
    const onFirst = (chunk: Buffer) => {
      clearTimeout(timer)
      socket.removeListener('close', onEarlyClose)
      socket.removeListener('error', onEarlyError)
      socket.pause()
      socket.unshift(chunk)
      if (chunk[0] === TLS_HANDSHAKE) {
        // read per connection by the TLS listener: STRICT fails the handshake without a valid client certificate
        server.rejectUnauthorized = mode === 'STRICT'
        tlsListener.call(server, socket)
      } else if (mode === 'STRICT') {
        refuse(socket, 'plaintext', mode)
      } else {
        counts.plaintext++
        tagPeer(socket, undefined)
        httpListener.call(server, socket)
        socket.resume()
      }
    }
    socket.on('error', onEarlyError)
    socket.once('close', onEarlyClose)
    socket.once('data', onFirst)
  })

  // runs before node:http takes the socket, so a refused client never reaches the application
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const verdict = verifyClientSocket(socket, trustDomains())
    if (verdict.error !== undefined) return refuse(socket, 'certificate', modeOf(), verdict.error)
    tagPeer(socket, verdict.spiffeId)
    if (verdict.spiffeId === undefined) counts.tls++
    else counts.mtls++
  })
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    counts.refused.handshake++
    options.onRefused?.({ reason: 'handshake', mode: modeOf(), remoteAddress: socket.remoteAddress, error: err })
  })

  const unsubscribe = source.onChange((identity) => server.setSecureContext(secureContextOptions(identity)))
  server.once('close', unsubscribe)
  stats.set(server, counts)
  return server
}

function checkMode(mode: MtlsMode) {
  if (mode !== 'STRICT' && mode !== 'PERMISSIVE' && mode !== 'DISABLE') {
    throw new WeftError('WEFT_INVALID_ARGUMENT', `mtls mode must be STRICT, PERMISSIVE or DISABLE, got ${JSON.stringify(mode)}`)
  }
}

type Listener = (this: unknown, socket: Socket) => void

/** The one listener node registered for `event`; fails loudly if a Node release changes that. */
function onlyListener(server: Server, event: string, name: string): Listener {
  const found = server.listeners(event).find((l) => l.name === name) as Listener | undefined
  if (found === undefined) {
    throw new Error(
      `@weft/mtls: this Node.js (${process.version}) has no '${event}' listener named ${name} on https.Server; PERMISSIVE sniffing needs it`,
    )
  }
  return found
}
