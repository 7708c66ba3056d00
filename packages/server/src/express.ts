/** The Express 5 adapter: `app.use(weftExpress(mesh))`. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { AppExchange, alreadyInCall, type InboundMesh, inboundCall, writeError, writeReply } from './inbound.js'

type Next = (err?: unknown) => void

/** Express middleware that runs every request through the mesh's inbound stack; put it first. */
export function weftExpress(mesh: InboundMesh): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  return (req, res, next) => {
    if (alreadyInCall(req)) {
      next()
      return
    }
    const inbound = mesh.inbound
    const exchange = new AppExchange(req, res, () => next())
    // the whole path (originalUrl), not what is left of it under a mount: the rules are written for the whole
    inbound.handler(inboundCall(inbound, req, exchange, (req as IncomingMessage & { originalUrl?: string }).originalUrl)).then(
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
