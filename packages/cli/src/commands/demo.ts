/**
 * `weft demo`: a small mesh inside this one process — web → checkout → payments ×2 (round robin),
 * every hop found by service name, no sidecar — printing who answered, the deadline each hop was
 * given and the trace id each hop received.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { createMesh, type Mesh } from '@weft/client'
import { currentCall, weftErrorOf } from '@weft/core'
import { weftHandler } from '@weft/server'
import type { Command } from 'commander'
import { wholeFlag } from '../flags.js'

export interface DemoFlags {
  /** How many calls web makes to checkout. Default `'4'`. */
  calls?: string
  json?: boolean
}

/** What one call of web's went through, as checkout and payments saw it. */
export interface DemoCall {
  readonly call: number
  /** Checkout answered 200 with a payment that payments answered 200, and both hops received one trace id. */
  readonly ok: boolean
  /** Checkout's status; `null` when the call failed before an answer. */
  readonly status: number | null
  /** Why the call failed, when it did. */
  readonly error?: string
  /** The payments instance that answered (`payments v1`) and its address. */
  readonly instance?: string
  readonly address?: string
  /** The `x-weft-timeout` (milliseconds) each hop received: the deadline, propagated. */
  readonly timeoutMs: { readonly checkout: number | null; readonly payments: number | null }
  /** The trace id in the `traceparent` each hop received. */
  readonly traceId: { readonly checkout: string | null; readonly payments: string | null }
}

export interface DemoResult {
  readonly ok: boolean
  /** Where each service listened (OS-chosen ports on 127.0.0.1). */
  readonly services: { readonly checkout: string; readonly payments: readonly string[] }
  /** The active roles of web's client stack, outermost first. */
  readonly stack: readonly string[]
  readonly calls: readonly DemoCall[]
}

/** Parts of the demo a caller may replace; `weft demo` replaces none. Tests break a hop with them, for real. */
export interface DemoParts {
  /** Checkout's call to payments, made while serving web's call. Default: a plain `fetch()` of `http://payments/charge`. */
  charge?: () => Promise<Response>
}

export const DEMO_DEFAULTS = { calls: 4, checkoutTimeout: '2s' } as const
/** What checkout spends before it calls payments (looking up the cart), so the spent budget shows in payments' x-weft-timeout. */
const CHECKOUT_WORK_MS = 25
const PAYMENTS_VERSIONS = ['v1', 'v2'] as const

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a small mesh in this process (web → checkout → payments ×2, round robin) and print what each call went through')
    .option('--calls <n>', 'how many calls web makes to checkout', String(DEMO_DEFAULTS.calls))
    .option('--json', 'print JSON instead of lines')
    .action(async (flags: DemoFlags) => {
      process.exitCode = await runDemo(flags)
    })
}

/** Runs the demo, prints the lines (or JSON), and resolves to the exit code: 1 when any call failed or lost its trace. */
export async function runDemo(flags: DemoFlags, out: (text: string) => void = console.log, parts: DemoParts = {}): Promise<number> {
  const calls = wholeFlag('--calls', flags.calls, 1) ?? DEMO_DEFAULTS.calls
  if (!flags.json) out('weft demo: web → checkout → payments ×2 (round robin), each hop by service name through the mesh, no sidecar')
  const result = await demo(calls, flags.json ? () => {} : (line) => out(formatCall(line)), parts)
  if (flags.json) out(JSON.stringify(result, null, 2))
  else for (const line of summary(result)) out(line)
  return result.ok ? 0 : 1
}

/** Starts the services, makes `calls` calls from web, closes everything; `onCall` sees each call as it ends. */
export async function demo(calls: number, onCall: (call: DemoCall) => void = () => {}, parts: DemoParts = {}): Promise<DemoResult> {
  const charge = parts.charge ?? chargePayments
  const closers: (() => unknown)[] = []
  try {
    // ports first (port 0: the OS picks, so two demos never collide), then the policy from them
    const paymentsServers = PAYMENTS_VERSIONS.map(() => createServer())
    const checkoutServer = createServer()
    for (const server of [...paymentsServers, checkoutServer]) closers.push(() => closeServer(server))
    const paymentsAddresses = await Promise.all(paymentsServers.map(listen))
    const checkoutAddress = await listen(checkoutServer)
    const policy = {
      apiVersion: 'weft.dev/v1',
      services: {
        // checkout's timeout is the whole call's budget; payments gets what is left of it
        checkout: { endpoints: [{ address: checkoutAddress }], timeout: DEMO_DEFAULTS.checkoutTimeout },
        payments: {
          endpoints: paymentsAddresses.map((address, i) => ({ address, labels: { version: PAYMENTS_VERSIONS[i] as string } })),
          loadBalancer: 'round-robin',
        },
      },
    }

    // payments: two instances, plain node:http wrapped by weftHandler
    for (const [i, server] of paymentsServers.entries()) {
      const mesh = await createMesh({ service: 'payments', policy })
      closers.push(() => mesh.close())
      server.on(
        'request',
        weftHandler(mesh, (req, res) => {
          req.resume()
          sendJson(res, 200, {
            instance: `payments ${PAYMENTS_VERSIONS[i]}`,
            address: paymentsAddresses[i],
            timeoutMs: timeoutOf(req),
            traceId: traceIdOf(),
          })
        }),
      )
    }

    // checkout: its plain fetch() reaches payments through the mesh because of install()
    const checkoutMesh = await createMesh({ service: 'checkout', policy })
    closers.push(() => checkoutMesh.close())
    const undo = checkoutMesh.install()
    closers.push(undo)
    checkoutServer.on(
      'request',
      weftHandler(checkoutMesh, async (req, res) => {
        req.resume()
        const seen = { timeoutMs: timeoutOf(req), traceId: traceIdOf() }
        try {
          await sleep(CHECKOUT_WORK_MS)
          const payment = await charge()
          if (payment.ok) sendJson(res, 200, { ...seen, paymentStatus: payment.status, payment: await payment.json() })
          else sendJson(res, 502, { ...seen, paymentStatus: payment.status, error: `payments answered ${payment.status}` })
        } catch (err) {
          sendJson(res, 502, { ...seen, error: messageOf(err) })
        }
      }),
    )

    // web: a client calling checkout by name
    const web = await createMesh({ service: 'web', policy })
    closers.push(() => web.close())

    const results: DemoCall[] = []
    for (let n = 1; n <= calls; n++) {
      const result = await webCall(web, n)
      results.push(result)
      onCall(result)
    }
    return {
      ok: results.every((r) => r.ok),
      services: { checkout: checkoutAddress, payments: paymentsAddresses },
      stack: web
        .stack()
        .client.filter((l) => l.active)
        .map((l) => l.role),
      calls: results,
    }
  } finally {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => {})
  }
}

/** Checkout's call to payments. No deadline or trace header is copied here: the mesh carries both from the inbound call. */
function chargePayments(): Promise<Response> {
  return fetch('http://payments/charge', {
    method: 'POST',
    body: '{"cents":1200}',
    headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
  })
}

async function webCall(web: Mesh, call: number): Promise<DemoCall> {
  try {
    const res = await web.fetch('http://checkout/buy', { method: 'POST', body: '{"cart":["tea"]}' })
    const body = (await res.json()) as CheckoutBody
    const payment = body.payment
    const traceId = { checkout: body.traceId ?? null, payments: payment?.traceId ?? null }
    const answered = res.status === 200 && body.paymentStatus === 200
    // the demo is there to show one trace through every hop: a call that lost it failed
    const traced = sameTrace({ traceId })
    const error = body.error ?? (answered && !traced ? 'payments did not receive the trace checkout was serving' : undefined)
    return {
      call,
      ok: answered && traced,
      status: res.status,
      ...(error === undefined ? {} : { error }),
      ...(payment === undefined ? {} : { instance: payment.instance, address: payment.address }),
      timeoutMs: { checkout: body.timeoutMs ?? null, payments: payment?.timeoutMs ?? null },
      traceId,
    }
  } catch (err) {
    return {
      call,
      ok: false,
      status: null,
      error: messageOf(err),
      timeoutMs: { checkout: null, payments: null },
      traceId: { checkout: null, payments: null },
    }
  }
}

interface PaymentBody {
  instance: string
  address: string
  timeoutMs: number | null
  traceId: string | null
}
interface CheckoutBody {
  timeoutMs?: number | null
  traceId?: string | null
  paymentStatus?: number
  payment?: PaymentBody
  error?: string
}

/** `call 1: 200; payments v1 (127.0.0.1:41234) answered; x-weft-timeout 2000ms at checkout, 1996ms at payments; trace … at both hops`. */
export function formatCall(c: DemoCall): string {
  if (c.status === null) return `call ${c.call}: failed: ${c.error}`
  const parts = [`call ${c.call}: ${c.status}`]
  parts.push(
    c.instance === undefined
      ? `payments did not answer${c.error === undefined ? '' : ` (${c.error})`}`
      : `${c.instance} (${c.address}) answered`,
  )
  parts.push(`x-weft-timeout ${msText(c.timeoutMs.checkout)} at checkout, ${msText(c.timeoutMs.payments)} at payments`)
  parts.push(
    sameTrace(c)
      ? `trace ${c.traceId.checkout} at both hops`
      : `trace ${c.traceId.checkout ?? 'none'} at checkout, ${c.traceId.payments ?? 'none'} at payments`,
  )
  return parts.join('; ')
}

function summary(r: DemoResult): string[] {
  const byInstance = new Map<string, number>()
  for (const c of r.calls) if (c.instance !== undefined) byInstance.set(c.instance, (byInstance.get(c.instance) ?? 0) + 1)
  const answered = [...byInstance].map(([instance, n]) => `${instance} answered ${n}`).join(', ')
  const ok = r.calls.filter((c) => c.ok).length
  const traced = r.calls.filter(sameTrace).length
  return [
    '',
    `checkout on ${r.services.checkout}; payments on ${r.services.payments.join(' and ')}`,
    `client stack of web: ${r.stack.join(' → ')}`,
    `deadline: checkout's ${DEMO_DEFAULTS.checkoutTimeout} timeout went to payments as x-weft-timeout, less the time already spent`,
    `trace: ${traced}/${r.calls.length} calls carried one trace id through both hops, with no header copied by hand`,
    `${ok}/${r.calls.length} calls succeeded${answered === '' ? '' : `; ${answered}`}`,
  ]
}

function sameTrace(c: Pick<DemoCall, 'traceId'>): boolean {
  return c.traceId.checkout !== null && c.traceId.checkout === c.traceId.payments
}

function msText(ms: number | null): string {
  return ms === null ? 'none' : `${ms}ms`
}

function timeoutOf(req: IncomingMessage): number | null {
  const value = req.headers['x-weft-timeout']
  return typeof value === 'string' ? Number(value) : null
}

/** The trace id of the call being served, as the server stack read it from the `traceparent` that came in. */
function traceIdOf(): string | null {
  return currentCall()?.traceId ?? null
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify(body))
}

function messageOf(err: unknown): string {
  const weft = weftErrorOf(err)
  if (weft !== undefined) return `${weft.code}: ${weft.message}`
  const cause = (err as { cause?: unknown }).cause
  const root = cause instanceof Error ? cause : err
  return root instanceof Error ? root.message : String(root)
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`))
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) resolve()
    else server.close(() => resolve())
    server.closeAllConnections()
  })
}
