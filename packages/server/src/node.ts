/** The node:http adapter: `http.createServer(weftHandler(mesh, listener))`. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { AppExchange, alreadyInCall, type InboundMesh, inboundCall, writeError, writeReply } from './inbound.js'

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown

/** Wraps a node:http request listener so every request runs through the mesh's inbound stack. */
export function weftHandler(mesh: InboundMesh, listener: RequestListener): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (alreadyInCall(req)) {
      listener(req, res)
      return
    }
    const inbound = mesh.inbound
    const exchange = new AppExchange(req, res, () => runListener(listener, req, res))
    inbound.handler(inboundCall(inbound, req, exchange)).then(
      (reply) => {
        if (!exchange.served) writeReply(res, reply)
      },
      (err) => writeError(res, err),
    )
  }
}

/** Runs a node:http listener; what it throws or rejects with becomes a 500 (or the WeftError's status). */
function runListener(listener: RequestListener, req: IncomingMessage, res: ServerResponse): void {
  try {
    const result = listener(req, res)
    if (result instanceof Promise) result.catch((err: unknown) => writeError(res, err))
  } catch (err) {
    writeError(res, err)
  }
}
