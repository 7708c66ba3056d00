import { execFile } from 'node:child_process'
import { describe, expect, it } from 'vitest'

/** Runs `body` in a fresh Node process with the built @weft/client and returns the heavy modules it loaded. */
function loadedAfter(body: string): Promise<string[]> {
  const script = `
    import { registerHooks } from 'node:module'
    // every module resolved from here on, imported or required
    const resolved = new Set()
    registerHooks({ resolve: (specifier, context, next) => { const r = next(specifier, context); resolved.add(r.url); return r } })
    const { createServer } = process.getBuiltinModule('node:http')
    const { request } = await import('undici')
    const { createMesh } = await import('@weft/client')
    const upstream = createServer((req, res) => res.end('ok'))
    await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    const address = '127.0.0.1:' + upstream.address().port
    const mesh = await createMesh({ service: 'checkout', policy: { apiVersion: 'weft.dev/v1', services: { payments: { endpoints: [{ address }] } } } })
    await request('http://payments/', { dispatcher: mesh.dispatcher }).then((r) => r.body.text())
    ${body}
    await mesh.close()
    upstream.close()
    const heavy = /\\/(?:node_modules\\/(@peculiar\\/x509|reflect-metadata|prom-client|yaml|@opentelemetry\\/api)|(?:node_modules\\/@weft|packages)\\/(agent))\\//
    const names = [...resolved].map((url) => url.match(heavy)).filter((m) => m !== null).map((m) => m[1] ?? '@weft/' + m[2])
    // the undici bundled in Node (about 2 MB), which an ESM import of node:http loads through its WebSocket getter
    if (process.moduleLoadList.includes('NativeModule internal/deps/undici/undici')) names.push('node:internal/deps/undici')
    console.log(JSON.stringify([...new Set(names)].sort()))`
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: new URL('../../..', import.meta.url).pathname },
      (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]'))),
    ),
  )
}

describe('what a mesh loads', () => {
  it('a mesh with an object policy, no identity and no scrape never loads the X.509 library, yaml, prom-client, the OpenTelemetry API, the mesh-agent or Node’s bundled undici', async () => {
    expect(await loadedAfter('')).toEqual([])
  })

  it('prom-client loads when weft’s own registry is first read, and serves the calls made before', async () => {
    const loaded = await loadedAfter(`
      const text = await mesh.registry.metrics()
      if (!/weft_requests_total\\{[^}]*service="payments"[^}]*\\} 1/.test(text)) throw new Error('the call before the first scrape is missing: ' + text)`)

    // prom-client requires the OpenTelemetry API itself (its process CPU metric's exemplars)
    expect(loaded).toEqual(['@opentelemetry/api', 'prom-client'])
  })

  it('an OpenTelemetry SDK registered after the mesh is made gets spans from the next call on', async () => {
    const loaded = await loadedAfter(`
      const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base')
      const { trace } = await import('@opentelemetry/api')
      const exporter = new InMemorySpanExporter()
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
      await request('http://payments/', { dispatcher: mesh.dispatcher }).then((r) => r.body.text())
      const spans = exporter.getFinishedSpans().map((s) => s.attributes['weft.service'])
      if (spans.join() !== 'payments') throw new Error('expected one client span, of the call after the SDK registered: ' + spans)`)

    expect(loaded).toEqual(['@opentelemetry/api'])
  })
})
