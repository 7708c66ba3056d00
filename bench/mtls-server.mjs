// The server both mTLS benches measure: weft's createMeshServer in a mode, or RAW, node's own
// https.Server with node's defaults (cipher order included) and no weft in the server path.
import { createServer as createHttpsServer } from 'node:https'
import { createMeshServer } from '@weft/mtls'

const body = Buffer.from('ok')

function answerOk(req, res) {
  req.resume()
  req.on('end', () => {
    res.setHeader('content-length', body.length)
    res.end(body)
  })
}

/** A keep-alive server answering `ok`; `mode` is STRICT, PERMISSIVE, DISABLE or RAW. */
export function benchServer(mode, identity) {
  if (mode !== 'RAW') return createMeshServer(answerOk, { identity, mode, http: { keepAliveTimeout: 60_000 } })
  const { cert, key, bundle: ca } = identity.current()
  return createHttpsServer(
    { cert, key, ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', keepAliveTimeout: 60_000 },
    answerOk,
  )
}
