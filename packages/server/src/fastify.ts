/** The Fastify 5 plugin: `await app.register(weftFastify, { mesh })`. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Call, runWithCall } from '@weft/core'
import type { FastifyPluginCallback } from 'fastify'
import fp from 'fastify-plugin'
import { AppExchange, alreadyInCall, errorResponse, type InboundMesh, inboundCall } from './inbound.js'

export interface WeftFastifyOptions {
  mesh: InboundMesh
}

const CALL = Symbol('weft.call')

interface FastifyLike {
  addHook(name: 'onRequest', hook: (request: RequestLike, reply: ReplyLike, done: (err?: Error) => void) => void): unknown
  addHook(name: 'preHandler', hook: (request: RequestLike, reply: ReplyLike, done: (err?: Error) => void) => void): unknown
}
interface RequestLike {
  raw: IncomingMessage
  [CALL]?: Call
}
interface ReplyLike {
  raw: ServerResponse
  sent: boolean
  code(status: number): ReplyLike
  header(name: string, value: unknown): ReplyLike
  send(payload?: unknown): ReplyLike
}

function plugin(fastify: FastifyLike, options: WeftFastifyOptions, done: (err?: Error) => void) {
  const mesh = options?.mesh
  if (mesh === undefined || typeof mesh !== 'object' || !('inbound' in mesh)) {
    done(new TypeError('weftFastify: register it with { mesh }, the mesh from createMesh()'))
    return
  }
  fastify.addHook('onRequest', (request, reply, hookDone) => {
    if (alreadyInCall(request.raw)) {
      hookDone()
      return
    }
    const inbound = mesh.inbound
    const exchange = new AppExchange(request.raw, reply.raw, (call: Call) => {
      request[CALL] = call
      hookDone()
    })
    inbound.handler(inboundCall(inbound, request.raw, exchange)).then(
      (answer) => {
        if (exchange.served || reply.sent) return
        for (const name in answer.headers) reply.header(name, answer.headers[name])
        reply.code(answer.status).send()
      },
      (err) => {
        if (exchange.served || reply.sent) return
        const { status, body, headers } = errorResponse(err)
        for (const [k, v] of Object.entries(headers)) reply.header(k, v)
        reply.code(status).header('content-type', 'application/json').send(body)
      },
    )
  })
  // body parsing runs in the request's own async context; re-enter the call right before the handler
  fastify.addHook('preHandler', (request, _reply, hookDone) => {
    const call = request[CALL]
    if (call === undefined) hookDone()
    else runWithCall(call, () => hookDone())
  })
  done()
}

/** The weft Fastify plugin, wrapped with fastify-plugin so its hooks apply to the whole app. */
export const weftFastify: FastifyPluginCallback<WeftFastifyOptions> = fp(plugin as unknown as FastifyPluginCallback<WeftFastifyOptions>, {
  name: '@weft/server',
  fastify: '5.x',
})
