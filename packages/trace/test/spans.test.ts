import type { IncomingMessage } from 'node:http'
import { trace as otelApi, SpanKind } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { compose, runWithCall } from '@weft/core'
import { createMeshMetrics, metrics, observeAttempts } from '@weft/metrics'
import { retry } from '@weft/retry'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { inboundTrace, trace, traceAttempts } from '../src/index.js'
import { inbound, listen, outbound, transportTo } from './helpers.js'

function sdk() {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return { exporter, provider }
}

/**
 * Service A over real HTTP: its inbound stack, and an application that calls B through the client
 * stack (trace → metrics → retry → attempts → undici), with no trace code of its own.
 */
async function serviceA(bOrigin: string, provider?: BasicTracerProvider) {
  const meter = createMeshMetrics()
  const options = provider === undefined ? {} : { tracerProvider: provider }
  const send = compose(
    trace(options),
    metrics({ meter, service: 'b' }),
    retry({ attempts: 3, random: () => 0 }),
    observeAttempts({ meter, service: 'b', observers: [traceAttempts] }),
  )(transportTo(bOrigin))
  const serve = compose(inboundTrace(options))(async (call) => {
    const reply = await runWithCall(call, () =>
      send(outbound('/charge', {}, { method: 'GET', body: null, service: 'b', authority: 'b', route: 'charge' })),
    )
    return { status: reply.status, headers: {}, body: undefined }
  })
  const a = await listen((req: IncomingMessage, res) => {
    serve(inbound(req)).then(
      (r) => res.writeHead(r.status).end(),
      () => res.writeHead(500).end(),
    )
  })
  onTestFinished(() => a.close())
  return a
}

/** B answers 503 to its first request and 200 after. */
async function flakyB() {
  let n = 0
  const seen: Record<string, string | string[] | undefined>[] = []
  const b = await listen((req, res) => {
    seen.push(req.headers)
    res.writeHead(n++ === 0 ? 503 : 200).end()
  })
  onTestFinished(() => b.close())
  return { ...b, seen }
}

const byKind = (spans: ReadableSpan[], kind: SpanKind) => spans.filter((s) => s.kind === kind)

describe('with an OpenTelemetry SDK', () => {
  it('a call retried once makes one server span, one client span and a span per attempt', async () => {
    const { exporter, provider } = sdk()
    const b = await flakyB()
    const a = await serviceA(b.url, provider)
    const res = await fetch(`${a.url}/checkout`, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } })
    expect(res.status).toBe(200)

    const spans = exporter.getFinishedSpans()
    const [server] = byKind(spans, SpanKind.SERVER)
    const [client] = byKind(spans, SpanKind.CLIENT)
    const attempts = byKind(spans, SpanKind.INTERNAL)
    expect(byKind(spans, SpanKind.SERVER)).toHaveLength(1)
    expect(byKind(spans, SpanKind.CLIENT)).toHaveLength(1)
    expect(attempts).toHaveLength(2)

    // one trace, in order: the caller → A's server span → A's client span → each attempt
    for (const s of spans) expect(s.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c')
    expect(server?.parentSpanContext?.spanId).toBe('b7ad6b7169203331')
    expect(client?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId)
    for (const s of attempts) expect(s.parentSpanContext?.spanId).toBe(client?.spanContext().spanId)

    expect(server?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/checkout',
      'http.response.status_code': 200,
      'weft.fate': 'ok',
    })
    expect(client?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/charge',
      'server.address': 'b',
      'http.response.status_code': 200,
      'weft.service': 'b',
      'weft.route': 'charge',
      'weft.attempts': 2,
      'weft.fate': 'ok_after_retry',
    })
    const sorted = [...attempts].sort((x, y) => Number(x.attributes['weft.attempt']) - Number(y.attributes['weft.attempt']))
    expect(sorted[0]?.attributes).toMatchObject({
      'weft.attempt': 1,
      'http.response.status_code': 503,
      'error.type': '503',
      'weft.route': 'charge',
    })
    expect(sorted[1]?.attributes).toMatchObject({ 'weft.attempt': 2, 'http.response.status_code': 200, 'http.request.resend_count': 1 })

    // what B saw on the wire is the client span's context
    expect(b.seen[1]?.traceparent).toBe(`00-0af7651916cd43dd8448eb211c80319c-${client?.spanContext().spanId}-01`)
  })

  it('a call that took one try has a client span and no attempt span', async () => {
    const { exporter, provider } = sdk()
    const b = await listen((_req, res) => res.end('ok'))
    onTestFinished(() => b.close())
    const a = await serviceA(b.url, provider)
    expect((await fetch(`${a.url}/checkout`)).status).toBe(200)
    const spans = exporter.getFinishedSpans()
    expect(byKind(spans, SpanKind.CLIENT)).toHaveLength(1)
    expect(byKind(spans, SpanKind.INTERNAL)).toHaveLength(0)
    expect(byKind(spans, SpanKind.CLIENT)[0]?.attributes['weft.fate']).toBe('ok')
  })

  it('a failed call marks its client span with error.type and the fate', async () => {
    const { exporter, provider } = sdk()
    const gone = await listen((_req, res) => res.end())
    const origin = gone.url
    await gone.close()
    const a = await serviceA(origin, provider)
    expect((await fetch(`${a.url}/checkout`)).status).toBe(500)
    const [client] = byKind(exporter.getFinishedSpans(), SpanKind.CLIENT)
    expect(client?.attributes['weft.fate']).toBe('error')
    expect(client?.attributes['error.type']).toBe('connect-failure')
    expect(client?.status.code).toBe(2)
  })
})

describe('with a provider registered globally through @opentelemetry/api', () => {
  afterEach(() => otelApi.disable())

  it('makes spans without being given the provider, from the moment it is registered', async () => {
    const { exporter, provider } = sdk()
    const b = await flakyB()
    const a = await serviceA(b.url)
    await fetch(`${a.url}/before`)
    expect(exporter.getFinishedSpans()).toHaveLength(0)
    otelApi.setGlobalTracerProvider(provider)
    await fetch(`${a.url}/after`)
    expect(byKind(exporter.getFinishedSpans(), SpanKind.SERVER)).toHaveLength(1)
  })
})

describe('with no SDK', () => {
  it('makes no spans and still propagates the trace', async () => {
    const b = await flakyB()
    const a = await serviceA(b.url)
    await fetch(`${a.url}/checkout`, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } })
    const sent = b.seen.map((h) => h.traceparent as string)
    expect(sent).toHaveLength(2)
    for (const tp of sent) expect(tp).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/)
    expect(sent[0]).not.toContain('b7ad6b7169203331')
  })
})
