/** Real loopback servers for the trace tests: a service under test and a harness that records what it is sent. */
import http, { type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Call, compose, type HeaderMap, type Middleware, type Reply, runWithCall } from '@weft/core'
import { request } from 'undici'
import { expect } from 'vitest'
import type { Expect } from './harness-cases.js'

export interface Listening {
  readonly url: string
  readonly port: number
  close(): Promise<void>
}

export async function listen(handler: http.RequestListener): Promise<Listening> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The harness side: records the raw headers of every request it gets. */
export async function recorder(): Promise<Listening & { readonly seen: [string, string][][] }> {
  const seen: [string, string][][] = []
  const server = await listen((req, res) => {
    const pairs: [string, string][] = []
    for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string])
    seen.push(pairs)
    req.resume()
    res.end('{}')
  })
  return Object.assign(server, { seen })
}

/** The inner handler of a hand-built client stack: sends the call with undici, as the transport would. */
export function transportTo(origin: string): (call: Call) => Promise<Reply> {
  return async (call) => {
    const headers: Record<string, string | string[]> = {}
    for (const [k, v] of Object.entries(call.headers)) if (v !== undefined && k !== 'host') headers[k] = v
    const res = await request(`${origin}${call.path}`, { method: call.method as 'GET', headers, body: call.body as string | null })
    await res.body.text()
    return { status: res.statusCode, headers: {}, body: undefined }
  }
}

/** An outbound call as createMesh would make it. */
export function outbound(path: string, headers: HeaderMap = {}, patch: Partial<Call> = {}): Call {
  return {
    direction: 'outbound',
    service: 'harness',
    method: 'POST',
    path,
    authority: 'harness',
    headers: Object.assign(Object.create(null), headers),
    body: '[]',
    replayable: true,
    signal: undefined,
    deadline: undefined,
    attempt: 1,
    route: undefined,
    subset: undefined,
    endpoint: undefined,
    tried: [],
    trace: undefined,
    peer: undefined,
    startedAt: performance.now(),
    ...patch,
  }
}

/** The inbound call for a node request, as the server adapters build it. */
export function inbound(req: IncomingMessage): Call {
  return {
    ...outbound(req.url ?? '/', req.headers as HeaderMap),
    direction: 'inbound',
    method: req.method ?? 'GET',
    service: 'svc',
    body: req,
  }
}

/**
 * A service like the suite's test service: for each `{ url, arguments }` in the POSTed JSON array
 * it POSTs `arguments` to `url` through the client stack, with no trace code of its own.
 */
export function testService(server: Middleware, client: Middleware, harnessOrigin: string): http.RequestListener {
  const send = compose(client)(transportTo(harnessOrigin))
  const serve = compose(server)(async (call) => {
    const body = await new Promise<string>((resolve) => {
      let text = ''
      const req = call.body as IncomingMessage
      req.setEncoding('utf8')
      req.on('data', (c: string) => (text += c)).on('end', () => resolve(text))
    })
    const actions = JSON.parse(body) as { url: string; arguments: unknown }[]
    // the application's own code: plain calls, made while serving the request
    await runWithCall(call, async () => {
      for (const a of actions)
        await send(outbound(new URL(a.url).pathname, { 'content-type': 'application/json' }, { body: JSON.stringify(a.arguments) }))
    })
    return { status: 200, headers: {}, body: undefined }
  })
  return (req, res) => {
    serve(inbound(req)).then(
      (reply) => {
        res.statusCode = reply.status
        res.end()
      },
      (err) => {
        res.statusCode = 500
        res.end(String(err))
      },
    )
  }
}

/** Sends the harness's request: header pairs exactly as given (repeats stay separate lines). */
export async function send(url: string, headers: [string, string][], callbacks: string[]): Promise<number> {
  const res = await request(url, {
    method: 'POST',
    headers: [...headers.flat(), 'content-type', 'application/json'],
    body: JSON.stringify(callbacks.map((u) => ({ url: u, arguments: [] }))),
  })
  await res.body.text()
  return res.statusCode
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const KEY = '[0-9a-z][_0-9a-z\\-\\*\\/@]{0,255}'
const VALUE = '[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,255}[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]'
const MEMBER = new RegExp(`^(${KEY})(=)(${VALUE})$`)

/** Reads what the service sent the way the suite does, and checks what the suite checks. */
export function check(received: [string, string][], want: Expect): { traceId: string; parentId: string } {
  const parents = received.filter(([k]) => k.toLowerCase() === 'traceparent')
  expect(parents, 'exactly one traceparent').toHaveLength(1)
  const m = TRACEPARENT.exec((parents[0] as [string, string])[1]) as RegExpExecArray
  expect(m, 'traceparent matches the format').not.toBeNull()
  const [, version, traceId, parentId, flags] = m as unknown as string[]
  expect(version).not.toBe('ff')
  expect(traceId).not.toBe('00000000000000000000000000000000')
  expect(parentId).not.toBe('0000000000000000')
  const state = new Map<string, string>()
  for (const [k, v] of received) {
    if (k.toLowerCase() !== 'tracestate') continue
    for (const member of v.split(/[ \t]*,[ \t]*/)) {
      if (member === '') continue
      const mm = MEMBER.exec(member)
      expect(mm, `tracestate member ${member} is valid`).not.toBeNull()
      if (!state.has((mm as RegExpExecArray)[1] as string))
        state.set((mm as RegExpExecArray)[1] as string, (mm as RegExpExecArray)[3] as string)
    }
  }
  const serialised = [...state].map(([k, v]) => `${k}=${v}`).join(',')
  if (want.sameTrace !== undefined) expect(traceId).toBe(want.sameTrace)
  for (const t of want.notTrace ?? []) expect(traceId).not.toBe(t)
  if (want.notParent !== undefined) expect(parentId).not.toBe(want.notParent)
  for (const [k, v] of Object.entries(want.has ?? {})) expect(state.get(k), `tracestate ${k}`).toBe(v)
  for (const k of want.lacks ?? []) expect(state.has(k), `tracestate has no ${k}`).toBe(false)
  if (want.size !== undefined) expect(state.size).toBe(want.size)
  if (want.ordered !== undefined) {
    let at = -1
    for (const part of want.ordered) {
      const i = serialised.indexOf(part)
      expect(i, `${part} in ${serialised}`).toBeGreaterThan(at)
      at = i
    }
  }
  if (want.oneOf !== undefined) expect(want.oneOf.some((p) => serialised.includes(p))).toBe(true)
  if (want.flagBit !== undefined) expect(Number.parseInt(flags as string, 16) & want.flagBit).toBe(want.flagBit)
  return { traceId: traceId as string, parentId: parentId as string }
}
