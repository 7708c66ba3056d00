/**
 * A plain inner handler standing in for the balancer and the network: it picks endpoints round
 * robin, avoiding those the call already tried (and records its pick in `call.tried`, as the
 * balancer does), and lets each endpoint answer as the test says.
 */
import type { BodySink, Call, Handler, HeaderMap, Reply, ReplyBody } from '@weft/core'
import { WeftError } from '@weft/core'

export type Behaviour = (call: Call, n: number) => Promise<Reply> | Reply

export interface Sent {
  readonly address: string
  readonly call: Call
}

export function network(endpoints: Record<string, Behaviour>) {
  const addresses = Object.keys(endpoints)
  const sent: Sent[] = []
  const counts = new Map<string, number>()
  let next = 0
  const handler: Handler = async (call) => {
    const fresh = addresses.filter((a) => !call.tried.includes(a))
    const pool = fresh.length > 0 ? fresh : addresses
    const address = pool[next++ % pool.length] as string
    ;(call.tried as string[]).push(address)
    sent.push({ address, call })
    const n = (counts.get(address) ?? 0) + 1
    counts.set(address, n)
    return (endpoints[address] as Behaviour)(call, n)
  }
  return { handler, sent }
}

export function outboundCall(patch: Partial<Call> = {}): Call {
  return {
    direction: 'outbound',
    service: 'payments',
    method: 'GET',
    path: '/charge',
    authority: 'payments',
    headers: Object.assign(Object.create(null), { host: 'payments' }),
    body: null,
    replayable: true,
    signal: undefined,
    deadline: undefined,
    attempt: 1,
    route: undefined,
    subset: undefined,
    endpoint: undefined,
    tried: Object.freeze([]) as readonly string[],
    trace: undefined,
    peer: undefined,
    startedAt: 0,
    ...patch,
  }
}

/** A reply body that records whether it was discarded. */
export class TestBody implements ReplyBody {
  discarded = false
  sink: BodySink | undefined
  constructor(readonly text = '') {}
  pipe(sink: BodySink): void {
    this.sink = sink
    sink.onData(new TextEncoder().encode(this.text))
    sink.onEnd(undefined)
  }
  resume(): void {}
  discard(): void {
    this.discarded = true
  }
}

export function reply(status: number, headers: HeaderMap = {}, body: ReplyBody | undefined = new TestBody(String(status))): Reply {
  return { status, headers, body }
}

/** A transport failure as the client's transport raises it. */
export function transportError(kind: 'connect-failure' | 'reset', endpoint = '127.0.0.1:1'): WeftError {
  const code = kind === 'connect-failure' ? 'ECONNREFUSED' : 'ECONNRESET'
  return new WeftError('WEFT_UPSTREAM_FAILURE', `payments: ${kind} talking to ${endpoint}`, {
    cause: Object.assign(new Error(code), { code }),
    details: { service: 'payments', endpoint, kind },
  })
}

/** Settles only when `signal` aborts, rejecting with its reason (a hanging upstream). */
export function hang(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

/** Reads a request body the way undici would: a string, bytes, or an (async) iterable of chunks. */
export async function readRequestBody(body: unknown): Promise<string> {
  if (body === null || body === undefined) return ''
  if (typeof body === 'string') return body
  if (body instanceof Uint8Array) return Buffer.from(body).toString()
  const chunks: Buffer[] = []
  for await (const c of body as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(c))
  return Buffer.concat(chunks).toString()
}

/** Lets queued promise callbacks run. */
export const tick = () => new Promise<void>((r) => setImmediate(r))

/** Advances `clock` in steps until `promise` settles (backoffs and timers fire as they would). */
export async function drive<T>(
  clock: { advance(by: string): Promise<void> },
  promise: Promise<T>,
  step = '5ms',
  limit = 10_000,
): Promise<T> {
  let settled = false
  const watched = promise.then(
    (v) => {
      settled = true
      return v
    },
    (e) => {
      settled = true
      throw e
    },
  )
  watched.catch(() => {})
  for (let i = 0; i < limit && !settled; i++) await clock.advance(step)
  return watched
}
