// The route layer: per-call cost of matching among 1 000 routes, and of the layer with no faults or
// mirrors. Run: npm run build && node bench/traffic.mjs

import { testCall } from '@weft/core/testing'
import { parsePolicy } from '@weft/policy'
import { mirror, route } from '@weft/traffic'
import { report } from './lib.mjs'

const N = 200_000
const reply = { status: 200, headers: {}, body: undefined }
const inner = () => Promise.resolve(reply)
const base = testCall()

function service(routes) {
  const p = parsePolicy({
    apiVersion: 'weft.dev/v1',
    services: {
      payments: { endpoints: [{ address: '127.0.0.1:1', labels: { version: 'v1' } }], subsets: { v1: { version: 'v1' } }, routes },
    },
  })
  return p.services.payments
}

async function perCall(handler, calls) {
  for (let i = 0; i < 20_000; i++) await handler(calls[i % calls.length])
  const t0 = process.cpuUsage()
  for (let i = 0; i < N; i++) await handler(calls[i % calls.length])
  const t = process.cpuUsage(t0)
  return ((t.user + t.system) * 1000) / N // ns
}

// 1 000 routes: half path prefixes, half header matches; calls hit early, middle, late and the default
const many = []
for (let i = 0; i < 500; i++) many.push({ match: { path: { prefix: `/api/v${i}/` } }, split: [{ subset: 'v1', weight: 1 }] })
for (let i = 0; i < 500; i++) many.push({ match: { headers: { 'x-tenant': `tenant-${i}` } }, split: [{ subset: 'v1', weight: 1 }] })
const calls = [
  { ...base, path: '/api/v3/orders' },
  { ...base, path: '/api/v250/orders' },
  { ...base, path: '/other', headers: { 'x-tenant': 'tenant-480' } },
  { ...base, path: '/nothing' },
]

const bare = await perCall(inner, [base])
const oneRoute = await perCall(route({ service: service([{}]) })(inner), [base])
const thousand = await perCall(route({ service: service(many) })(inner), calls)
// the mirror layer on a call whose route does not mirror (another route of the service does)
const mirroring = service([{ name: 'shadowed', match: { path: '/shadowed' }, mirror: { subset: 'v1', percent: 10 } }, {}])
const routed = { ...base, route: 'default' }
const mirrorLayer = await perCall(mirror({ service: mirroring })(inner), [routed])

report(
  'traffic',
  'route layer cost per call (CPU, in-process)',
  ['case', 'ns per call', 'over a bare handler'],
  [
    ['bare inner handler', bare.toFixed(0), '—'],
    ['route layer, one catch-all route, no faults or mirrors', oneRoute.toFixed(0), `+${(oneRoute - bare).toFixed(0)} ns`],
    ['mirror layer, call on a route that does not mirror', mirrorLayer.toFixed(0), `+${(mirrorLayer - bare).toFixed(0)} ns`],
    [
      '1 000 routes (500 prefix, 500 header), calls spread over early, late and unmatched',
      thousand.toFixed(0),
      `+${(thousand - bare).toFixed(0)} ns`,
    ],
  ],
)
