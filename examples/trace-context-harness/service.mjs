// The service the W3C trace-context test suite (w3c/trace-context, folder test/) drives: it POSTs a
// JSON array of { url, arguments } here, and for each entry this service POSTs `arguments` to `url`
// — through weft, with no trace code of its own. The harness then checks the traceparent and
// tracestate those calls carried.
//
// The harness is a service of the mesh named `harness` (its callback URLs point at 127.0.0.1:<port>;
// this service calls http://harness/<path> instead, so the call goes through the mesh's stack).
//
//   PORT=5000 HARNESS_PORT=7777 node examples/trace-context-harness/service.mjs
import { createServer } from 'node:http'
import { createMesh } from '@weft/client'
import { weftHandler } from '@weft/server'

const { PORT = '5000', HARNESS_PORT = '7777' } = process.env
const port = Number(PORT)
const harnessPort = Number(HARNESS_PORT)

const mesh = await createMesh({
  service: 'trace-context-test',
  policy: {
    apiVersion: 'weft.dev/v1',
    services: { harness: { endpoints: [{ address: `127.0.0.1:${harnessPort}` }], retries: { attempts: 1 } } },
  },
})

async function readJson(req) {
  let text = ''
  for await (const chunk of req) text += chunk
  return text === '' ? [] : JSON.parse(text)
}

const server = createServer(
  weftHandler(mesh, async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/test') {
      res.writeHead(404).end()
      return
    }
    const actions = await readJson(req)
    for (const action of Array.isArray(actions) ? actions : [actions]) {
      const { pathname, search } = new URL(action.url)
      const answer = await mesh.fetch(`http://harness${pathname}${search}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(action.arguments ?? []),
      })
      await answer.arrayBuffer()
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  }),
)

server.listen(port, '127.0.0.1', () =>
  console.log(`trace-context test service on http://127.0.0.1:${port}/test (harness at 127.0.0.1:${harnessPort})`),
)
const stop = () => server.close(() => mesh.close().then(() => process.exit(0)))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
