// The retry and deadline layers on the success path, and the retry budget's accounting: CPU per
// call over a plain inner handler (no network), against the same loop without the layers.
// Run: npx turbo run build --filter=@weft/retry... --filter=@weft/deadline... && node bench/retry-deadline.mjs
import { AbortScope, createTimerQueue, Deadline, runWithCall, systemClock } from '@weft/core'
import { deadline, inboundDeadline } from '@weft/deadline'
import { loadPolicy } from '@weft/policy'
import { createRetryBudget, retry } from '@weft/retry'
import { median, report } from './lib.mjs'

const N = Number(process.env.BENCH_CALLS ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const timers = createTimerQueue(systemClock)

/**
 * A call as the client's dispatcher builds it: the exchange as its scope and no signal of its own,
 * plain-object headers (or, without `plain`, null-prototype ones: copying those is ~6× dearer).
 */
function outbound(extra, plain = false) {
  const headers = plain ? {} : Object.create(null)
  headers.host = 'payments'
  headers['user-agent'] = 'bench'
  headers.accept = '*/*'
  headers['content-type'] = 'application/json'
  if (extra !== undefined) for (const k in extra) headers[k] = extra[k]
  return {
    direction: 'outbound',
    service: 'payments',
    method: 'GET',
    path: '/charge',
    authority: 'payments',
    headers,
    body: null,
    replayable: true,
    signal: undefined,
    scope: new AbortScope(),
    deadline: undefined,
    attempt: 1,
    route: undefined,
    subset: undefined,
    endpoint: undefined,
    tried: [],
    trace: undefined,
    peer: undefined,
    startedAt: 0,
  }
}

/** The network: a 200 whose body ends as soon as it is piped. */
const CHUNK = new Uint8Array(8)
const inner = () =>
  Promise.resolve({
    status: 200,
    headers: {},
    body: {
      pipe(sink) {
        sink.onData(CHUNK)
        sink.onEnd(undefined)
      },
      resume() {},
      discard() {},
    },
  })
const sink = { onData: () => true, onEnd() {}, onError() {} }

/** One call to its end, as the exchange sees it: the body piped, then the scope ended (its timers cancelled). */
async function once(handler, makeCall, wrap) {
  const call = makeCall()
  ;(await wrap(() => handler(call))).body?.pipe(sink)
  call.scope?.end()
}

async function measure(handler, makeCall, wrap = (fn) => fn()) {
  for (let i = 0; i < 20_000; i++) await once(handler, makeCall, wrap)
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < N; i++) await once(handler, makeCall, wrap)
  const cpu = process.cpuUsage(cpu0)
  return ((cpu.user + cpu.system) * 1000) / N // ns per call
}

// as the mesh builds a service's stack: both layers read the service's policy (timeout 2s, default retries)
const policy = await loadPolicy({
  apiVersion: 'weft.dev/v1',
  services: { payments: { endpoints: [{ address: '127.0.0.1:1' }], timeout: '2s' } },
})
const service = policy.services.payments
const variants = {
  baseline: [inner, () => outbound()],
  'deadline, no deadline anywhere': [deadline({ timers })(inner), () => outbound()],
  'deadline, route timeout 2s': [deadline({ timeout: '2s', timers })(inner), () => outbound()],
  'retry (3 attempts), no deadline': [retry({ timers })(inner), () => outbound()],
  'deadline + retry, no deadline': [deadline({ timers })(retry({ timers })(inner)), () => outbound()],
  'deadline + retry, timeout 2s': [deadline({ timeout: '2s', timers })(retry({ timers })(inner)), () => outbound()],
  'baseline, plain-object headers': [inner, () => outbound(undefined, true)],
  'deadline + retry, no deadline, plain-object headers': [deadline({ timers })(retry({ timers })(inner)), () => outbound(undefined, true)],
  'deadline + retry, timeout 2s, plain-object headers': [
    deadline({ timeout: '2s', timers })(retry({ timers })(inner)),
    () => outbound(undefined, true),
  ],
  'deadline + retry from the service policy (as the mesh builds them), timeout 2s, plain-object headers': [
    deadline({ service, timers })(retry({ service, timers })(inner)),
    () => outbound(undefined, true),
  ],
  'deadline + retry, caller x-weft-timeout': [deadline({ timers })(retry({ timers })(inner)), () => outbound({ 'x-weft-timeout': '1500' })],
}

const inboundCall = { direction: 'inbound', service: 'orders', deadline: Deadline.after(3_600_000), signal: undefined }
const serverInner = () => Promise.resolve({ status: 200, headers: {}, body: undefined })
const serverBase = () => ({ ...inboundCall, headers: { host: 'orders', 'x-weft-timeout': '1500' }, deadline: undefined })

const results = {}
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, [handler, make]] of Object.entries(variants)) (results[name] ??= []).push(await measure(handler, make))
  const both = deadline({ timeout: '2s', timers })(retry({ timers })(inner))
  ;(results['deadline + retry, inherited inbound deadline'] ??= []).push(
    await measure(
      both,
      () => outbound(),
      (fn) => runWithCall(inboundCall, fn),
    ),
  )
  ;(results['baseline inside an inbound call'] ??= []).push(
    await measure(
      inner,
      () => outbound(),
      (fn) => runWithCall(inboundCall, fn),
    ),
  )
  ;(results['server: baseline'] ??= []).push(await measure(serverInner, serverBase))
  ;(results['server: inboundDeadline, x-weft-timeout'] ??= []).push(await measure(inboundDeadline({ timers })(serverInner), serverBase))
}

const base = median(results.baseline)
const inBase = median(results['baseline inside an inbound call'])
const serverBaseNs = median(results['server: baseline'])
const rows = Object.entries(results).map(([name, runs]) => {
  const ns = median(runs)
  const plainBase = median(results['baseline, plain-object headers'])
  const ref = name.startsWith('server')
    ? serverBaseNs
    : name.includes('inbound deadline') || name.includes('inside')
      ? inBase
      : name.includes('plain-object')
        ? plainBase
        : base
  return [name, ns.toFixed(0), name.includes('baseline') ? '—' : `+${(ns - ref).toFixed(0)}`]
})

// budget accounting: deposit + tryWithdraw, and the cost after a long idle gap (O(1) either way)
const budget = createRetryBudget({ ratio: 0.2, minPerSecond: 10, window: '10s' })
const ops = 5_000_000
let t = process.hrtime.bigint()
for (let i = 0; i < ops; i++) {
  budget.deposit()
  if ((i & 7) === 0) budget.tryWithdraw()
}
const budgetNs = Number(process.hrtime.bigint() - t) / ops
let now = 0
const jumpy = createRetryBudget({ clock: { monotonic: () => now, now: () => now } })
t = process.hrtime.bigint()
for (let i = 0; i < ops; i++) {
  now += 1001 // a new slice every call: the worst case for expiry
  jumpy.deposit()
}
const budgetWorstNs = Number(process.hrtime.bigint() - t) / ops
rows.push(['budget: deposit (+ tryWithdraw every 8th)', budgetNs.toFixed(1), '—'])
rows.push(['budget: deposit, a slice expiring on every call', budgetWorstNs.toFixed(1), '—'])

report('retry-deadline', 'retry + deadline layers on the success path (CPU per call)', ['variant', 'ns/call', 'over its baseline'], rows, [
  `${ROUNDS} rounds of ${N} sequential calls each; medians of process CPU (user + system). The inner handler answers a 200 whose body ends when piped; the call is built as the client's dispatcher builds it (its exchange as its scope, no AbortController), and its scope ended after the body, as the exchange does.`,
])
timers.close()
