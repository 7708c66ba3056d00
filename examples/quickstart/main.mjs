// The quick start: two services and a client calling through the mesh, printing what happened.
//
//   web (client) ──mesh.fetch──▶ checkout (Express) ──fetch() through mesh.install()──▶ payments ×2 (node:http)
//
// Every hop finds the next by service name, with no sidecar. Run: npm run demo
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { createMesh } from '@weft/client'
import { currentCall } from '@weft/core'
import { weftExpress, weftHandler } from '@weft/server'
import express from 'express'

const policy = fileURLToPath(new URL('./mesh.yaml', import.meta.url))
const listen = (server, port) => new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)))
const closers = []

// payments: two instances, plain node:http wrapped by weftHandler
for (const [port, version] of [
  [7081, 'v1'],
  [7082, 'v2'],
]) {
  const mesh = await createMesh({ service: 'payments', policy })
  const server = await listen(
    createServer(
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
    ),
    port,
  )
  closers.push(
    () => new Promise((r) => server.close(r)),
    () => mesh.close(),
  )
}

// checkout: Express; its outbound fetch() goes through the mesh because of mesh.install()
const checkoutMesh = await createMesh({ service: 'checkout', policy })
const undo = checkoutMesh.install()
const app = express()
app.use(weftExpress(checkoutMesh))
app.post('/buy', async (_req, res) => {
  const payment = await fetch('http://payments/charge', {
    method: 'POST',
    body: '{"cents":1200}',
    headers: { 'idempotency-key': crypto.randomUUID() },
  })
  res.json({ checkout: 'ok', payment: await payment.json() })
})
const checkout = await listen(createServer(app), 7080)
closers.push(
  () => new Promise((r) => checkout.close(r)),
  () => checkoutMesh.close(),
  async () => undo(),
)

// web: a client calling checkout by name
const web = await createMesh({ service: 'web', policy })
closers.push(() => web.close())

console.log('weft quick start: web → checkout → payments, all through the mesh\n')
let ok = 0
for (let i = 1; i <= 4; i++) {
  const res = await web.fetch('http://checkout/buy', { method: 'POST' })
  const body = await res.json()
  if (res.status === 200) ok++
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
