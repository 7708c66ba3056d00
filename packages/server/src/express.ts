/** The Express 5 adapter: `app.use(weftExpress(mesh))`. */
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

type Next = (err?: unknown) => void

/** Express middleware that runs every request through the mesh's inbound stack; put it first. */
export function weftExpress(mesh: InboundMesh): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  return (req, res, next) => {
    if (alreadyInCall(req)) {
      next()
      return
    }
    const inbound = mesh.inbound
    const exchange = new ExpressExchange(req, res, next)
    inbound.handler(inboundCall(inbound, req, exchange)).then(
      (reply) => {
        if (!exchange.served) writeReply(res, reply)
      },
      (err) => {
        if (exchange.served) return
        writeError(res, err)
      },
    )
  }
}

class ExpressExchange implements NativeExchange {
  served = false
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly #next: Next

  constructor(req: IncomingMessage, res: ServerResponse, next: Next) {
    this.req = req
    this.res = res
    this.#next = next
  }

  serve(call: Call): Promise<Reply> {
    this.served = true
    const done = responseDone(this.res)
    runApplication(call, this.req, () => this.#next())
    return done
  }
}
