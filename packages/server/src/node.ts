/** The node:http adapter: `http.createServer(weftHandler(mesh, listener))`. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Call, Reply } from '@weft/core'
import {
  alreadyInCall,
  type InboundMesh,
  inboundCall,
  type NativeExchange,
  responseDone,
  runApplication,
  writeError,
  writeReply,
} from './inbound.js'

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown

/** Wraps a node:http request listener so every request runs through the mesh's inbound stack. */
export function weftHandler(mesh: InboundMesh, listener: RequestListener): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (alreadyInCall(req)) {
      listener(req, res)
      return
    }
    const inbound = mesh.inbound
    const exchange = new NodeExchange(req, res, listener)
    inbound.handler(inboundCall(inbound, req, exchange)).then(
      (reply) => {
        if (!exchange.served) writeReply(res, reply)
      },
      (err) => writeError(res, err),
    )
  }
}

class NodeExchange implements NativeExchange {
  served = false
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly #listener: RequestListener

  constructor(req: IncomingMessage, res: ServerResponse, listener: RequestListener) {
    this.req = req
    this.res = res
    this.#listener = listener
  }

  serve(call: Call): Promise<Reply> {
    this.served = true
    const done = responseDone(this.res)
    runApplication(call, this.req, () => {
      try {
        const result = this.#listener(this.req, this.res)
        if (result instanceof Promise) result.catch((err: unknown) => writeError(this.res, err))
      } catch (err) {
        writeError(this.res, err)
      }
    })
    return done
  }
}
