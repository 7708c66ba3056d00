// The quick start: two services and a client calling through the mesh, printing what happened.
//
//   web (client) ──mesh.fetch──▶ checkout (Express) ──fetch() through mesh.install()──▶ payments ×2 (node:http)
//
// Every hop finds the next by service name, with no sidecar. Run: npm run demo
import { createServer } from 'node:http'
import { createMesh } from '@weft/client'
import { currentCall } from '@weft/core'
import { weftExpress, weftHandler } from '@weft/server'
import express from 'express'

const closers = []
/** Listens on a port the OS picks (port 0), so two demos, or a port already taken, never collide. */
function listen(server) {
  closers.push(() => new Promise((r) => server.close(r)))
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${server.address().port}`)))
}

// Ports first, then the mesh policy from them: this is what a mesh.yaml holds, with these addresses.
const paymentsV1 = createServer()
const paymentsV2 = createServer()
const checkoutServer = createServer()
const [v1, v2, checkoutAddress] = await Promise.all([paymentsV1, paymentsV2, checkoutServer].map(listen))
const policy = `
apiVersion: weft.dev/v1
defaults:
  timeout: 2s
services:
  payments:
    endpoints:
      - { address: ${v1}, labels: { version: v1 } }
      - { address: ${v2}, labels: { version: v2 } }
    loadBalancer: round-robin
  checkout:
    endpoints:
      - { address: ${checkoutAddress} }
`

// payments: two instances, plain node:http wrapped by weftHandler
for (const [server, version] of [
  [paymentsV1, 'v1'],
  [paymentsV2, 'v2'],
]) {
  const mesh = await createMesh({ service: 'payments', policy })
  closers.push(() => mesh.close())
  server.on(
    'request',
    weftHandler(mesh, (req, res) => {
      const call = currentCall()
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({
          instance: `payments ${version}`,
          path: req.url,
          timeoutHeader: req.headers['x-weft-timeout'] ?? null,
          remainingMs: Math.round(call?.remainingMs() ?? 0),
        }),
      )
    }),
  )
}

// checkout: Express; its outbound fetch() goes through the mesh because of mesh.install()
const checkoutMesh = await createMesh({ service: 'checkout', policy })
const undo = checkoutMesh.install()
closers.push(
  () => checkoutMesh.close(),
  async () => undo(),
)
const app = express()
app.use(weftExpress(checkoutMesh))
app.post('/buy', async (_req, res) => {
  const payment = await fetch('http://payments/charge', {
    method: 'POST',
    body: '{"cents":1200}',
    headers: { 'idempotency-key': crypto.randomUUID() },
  })
  if (!payment.ok) return res.status(502).json({ checkout: 'failed', payments: payment.status, body: await payment.text() })
  res.json({ checkout: 'ok', payment: await payment.json() })
})
checkoutServer.on('request', app)

// web: a client calling checkout by name
const web = await createMesh({ service: 'web', policy })
closers.push(() => web.close())

console.log('weft quick start: web → checkout → payments, all through the mesh')
console.log(`checkout on ${checkoutAddress}; payments v1 on ${v1}, v2 on ${v2} (ports the OS picked)\n`)
let ok = 0
for (let i = 1; i <= 4; i++) {
  const res = await web.fetch('http://checkout/buy', { method: 'POST' })
  if (res.status !== 200) {
    // say what came back instead of failing on a body that is not the one expected
    console.log(`call ${i}: ${res.status} from checkout: ${(await res.text()).slice(0, 200)}`)
    continue
  }
  const body = await res.json()
  ok++
  console.log(
    `call ${i}: ${res.status} from checkout; payments answered by ${body.payment.instance} (x-weft-timeout it saw: ${body.payment.timeoutHeader ?? 'none'})`,
  )
}
const stack = web
  .stack()
  .client.filter((l) => l.active)
  .map((l) => l.role)
console.log(`\nclient stack of web: ${stack.join(' → ')}`)
console.log(`policy version ${web.policy.version}; ${ok}/4 calls succeeded`)

for (const close of closers.reverse()) await close()
process.exit(ok === 4 ? 0 : 1)
