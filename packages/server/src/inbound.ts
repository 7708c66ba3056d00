/** The inbound stack shared by every server adapter, and what the adapters have in common. */
import { AsyncResource } from 'node:async_hooks'
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  activeCall,
  buildStack,
  type Call,
  type Handler,
  type HeaderMap,
  originForm,
  type Reply,
  runWithCall,
  weftErrorOf,
} from '@weft/core'
import { peerOf } from '@weft/mtls'
import { type InboundContext, serverLayers } from './stack.js'

/** The inbound stack of one policy version. */
export interface Inbound {
  readonly handler: Handler
  /** Roles of the layers present, outermost first. */
  readonly roles: readonly string[]
  readonly context: InboundContext
}

/** What an adapter needs of a mesh. `@weft/client`'s Mesh is one. */
export interface InboundMesh {
  readonly service: string
  /** The inbound stack in force; replaced whole on a policy update. */
  readonly inbound: Inbound
}

/** The adapter's side of one request: runs the application once the stack lets the call through. */
export interface NativeExchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** True once the application was handed the request. */
  served: boolean
  /** Runs the application with `call` as the current call; resolves when the response is done. */
  serve(call: Call): Promise<Reply>
}

/** The exchange every adapter uses: `run` hands the request to the application (listener, `next()`, Fastify's `done`). */
export class AppExchange implements NativeExchange {
  served = false
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly #run: (call: Call) => void

  constructor(req: IncomingMessage, res: ServerResponse, run: (call: Call) => void) {
    this.req = req
    this.res = res
    this.#run = run
  }

  serve(call: Call): Promise<Reply> {
    this.served = true
    const done = responseDone(this.res)
    runApplication(call, this.req, () => this.#run(call))
    return done
  }
}

/** The innermost handler of every inbound stack: hands the call to the application. */
const serveApplication: Handler = (call) => (call.native as NativeExchange).serve(call)

/** Builds the inbound stack once per policy version. */
export function createInbound(context: InboundContext): Inbound {
  const { handler, roles } = buildStack(serverLayers, context, serveApplication)
  return { handler, roles, context }
}

const NO_TRIES: readonly string[] = Object.freeze([])
const NO_HEADERS: HeaderMap = Object.freeze(Object.create(null))

/**
 * The inbound call for a request. Its signal fires when the client goes away before the response
 * is finished (a caller's deadline or cancel reaches the handler as an abort); the deadline layer
 * links its own timer to it. `target` is the request target as the application routes on it
 * (default `req.url`).
 */
export function inboundCall(inbound: Inbound, req: IncomingMessage, native: NativeExchange, target = req.url ?? '/'): Call {
  const ac = new AbortController()
  const res = native.res
  res.once('close', () => {
    if (!res.writableFinished) ac.abort(clientGone())
  })
  return {
    direction: 'inbound',
    service: inbound.context.self,
    method: req.method ?? 'GET',
    // origin form, whatever form of target the client sent
    path: originForm(target),
    authority: req.headers.host ?? '',
    headers: req.headers as HeaderMap,
    body: req,
    replayable: false,
    signal: ac.signal,
    scope: undefined,
    deadline: undefined,
    attempt: 1,
    route: undefined,
    subset: undefined,
    endpoint: undefined,
    tried: NO_TRIES,
    trace: undefined,
    // only from the verified TLS socket (cached per connection), never from a header
    peer: peerOf(req.socket),
    startedAt: inbound.context.clock.monotonic(),
    // every field present, in copyCall's order: one hidden class for every call
    record: undefined,
    span: undefined,
    native,
  }
}

function clientGone(): Error {
  const err = new Error('the client closed the connection before the response was finished')
  err.name = 'AbortError'
  return err
}

/** True when `req` is already being served inside a weft call (an adapter behind mesh.createServer). */
export function alreadyInCall(req: IncomingMessage): boolean {
  const call = activeCall()
  return call !== undefined && call.direction === 'inbound' && (call.native as NativeExchange | undefined)?.req === req
}

/** Resolves with the reply the application gave once the response is finished or the client left. */
export function responseDone(res: ServerResponse): Promise<Reply> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('finish', done)
      res.off('close', done)
      resolve({ status: res.statusCode, headers: NO_HEADERS, body: undefined })
    }
    if (res.writableFinished) return done()
    res.on('finish', done)
    res.on('close', done)
  })
}

/**
 * Runs `fn` as the application with `call` current. A request body's events are bound to the call's
 * context, so body parsers that call `next()` from a `'data'`/`'end'` listener (Express's
 * `express.json()`, raw `req.on('end')`) still see `currentCall()`.
 */
export function runApplication(call: Call, req: IncomingMessage, fn: () => void): void {
  runWithCall(call, () => {
    if (hasBody(req)) req.emit = AsyncResource.bind(req.emit, 'weft.inbound', req) as typeof req.emit
    fn()
  })
}

function hasBody(req: IncomingMessage): boolean {
  const h = req.headers
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0')
}

/** Writes what the stack answered itself (a shed, a 504, a 403) when the application never ran. */
export function writeReply(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return
  res.statusCode = reply.status
  for (const name in reply.headers) {
    const v = reply.headers[name]
    if (v !== undefined) res.setHeader(name, v)
  }
  res.end()
}

/** Writes a failure of the stack: a WeftError as its status and code, anything else as 500. */
export function writeError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy(err instanceof Error ? err : undefined)
    return
  }
  const { status, body, headers } = errorResponse(err)
  res.statusCode = status
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
  res.setHeader('content-type', 'application/json')
  res.end(body)
}

/**
 * The HTTP answer for a failure: status, JSON body and headers (`retry-after` when shed). A
 * `WeftError` behind fetch's `TypeError('fetch failed')` counts as itself, so a handler that lets a
 * `mesh.fetch` failure through answers as one that lets a `mesh.dispatcher` one through: 504 for a
 * deadline, 503 for an open circuit.
 */
export function errorResponse(failure: unknown): { status: number; body: string; headers: Record<string, string> } {
  const err = weftErrorOf(failure)
  if (err !== undefined) {
    const headers: Record<string, string> = {}
    if (err.code === 'WEFT_OVERLOADED' || err.code === 'WEFT_CIRCUIT_OPEN')
      headers['retry-after'] = String(err.details.retryAfterSeconds ?? 1)
    return { status: err.status, body: JSON.stringify({ error: { code: err.code, message: err.message } }), headers }
  }
  return { status: 500, body: JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error' } }), headers: {} }
}
