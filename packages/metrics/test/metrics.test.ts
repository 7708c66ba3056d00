import { type Call, compose, WeftError } from '@weft/core'
import { retry } from '@weft/retry'
import { Registry } from 'prom-client'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createMeshMetrics, METRIC_NAMES, metrics, observeAttempts } from '../src/index.js'
import { outboundCall, promtoolCheck, reply, sample, scripted } from './helpers.js'

/** The client's order: metrics → retry → attempts → the network. */
function clientStack(network: (call: Call) => Promise<import('@weft/core').Reply>, allowRetries: boolean[]) {
  const meter = createMeshMetrics()
  const budget = { deposit() {}, tryWithdraw: () => allowRetries.shift() ?? false, balance: () => 0 }
  const handler = compose(
    metrics({ meter, service: 'payments' }),
    retry({ attempts: 2, budget, random: () => 0 }),
    observeAttempts({ meter, service: 'payments' }),
  )(network)
  return { meter, handler }
}

describe('a scripted run: 3 ok, 1 retried, 1 refused by the retry budget', () => {
  async function run() {
    const network = scripted([200, 200, 200, 503, 200, 503])
    const { meter, handler } = clientStack(network, [true, false])
    for (let i = 0; i < 5; i++) await handler(outboundCall())
    return { text: await meter.registry.metrics(), network }
  }

  it('counts each call once, by fate', async () => {
    const { text } = await run()
    const base = { direction: 'outbound', service: 'payments', route: 'charge', method: 'GET' }
    expect(sample(text, METRIC_NAMES.requests, { ...base, code: '200', fate: 'ok' })).toBe(3)
    expect(sample(text, METRIC_NAMES.requests, { ...base, code: '200', fate: 'ok_after_retry' })).toBe(1)
    expect(sample(text, METRIC_NAMES.requests, { ...base, code: '503', fate: 'retry_budget' })).toBe(1)
    expect(text.match(/^weft_requests_total\{/gm)).toHaveLength(3)
  })

  it('times every call once and every try apart', async () => {
    const { text, network } = await run()
    expect(network.tries).toHaveLength(6)
    expect(sample(text, `${METRIC_NAMES.duration}_count`, { route: 'charge' })).toBe(5)
    expect(sample(text, `${METRIC_NAMES.attempts}_count`, { route: 'charge', classification: 'success' })).toBe(4)
    expect(sample(text, `${METRIC_NAMES.attempts}_count`, { route: 'charge', classification: 'failure' })).toBe(2)
    expect(sample(text, METRIC_NAMES.retries, { service: 'payments', route: 'charge' })).toBe(1)
    expect(sample(text, METRIC_NAMES.inFlight, { direction: 'outbound', service: 'payments' })).toBe(0)
  })

  it('passes promtool check metrics', async () => {
    const { text } = await run()
    const { status, output } = promtoolCheck(text)
    expect(output).toBe('')
    expect(status).toBe(0)
  })
})

describe('fates of failed calls', () => {
  it.each([
    ['WEFT_DEADLINE_EXCEEDED', 'deadline'],
    ['WEFT_CIRCUIT_OPEN', 'circuit_open'],
    ['WEFT_NO_HEALTHY_ENDPOINT', 'no_healthy_endpoint'],
    ['WEFT_OVERLOADED', 'shed'],
    ['WEFT_UNAUTHORIZED', 'unauthorized'],
    ['WEFT_NOT_RETRYABLE', 'not_retryable'],
    ['WEFT_RETRY_BUDGET_EXHAUSTED', 'retry_budget'],
    ['WEFT_UPSTREAM_FAILURE', 'error'],
  ] as const)('%s counts as %s, with no code', async (code, fate) => {
    const meter = createMeshMetrics()
    const handler = metrics({ meter, service: 'payments' })(async () => {
      throw new WeftError(code, 'scripted', { details: { route: 'charge' } })
    })
    await expect(handler(outboundCall({ route: undefined }))).rejects.toThrow('scripted')
    const text = await meter.registry.metrics()
    expect(sample(text, METRIC_NAMES.requests, { route: 'charge', code: '', fate })).toBe(1)
  })

  it('a 5xx that came back is an error; a 4xx is the caller’s business and ok', async () => {
    const meter = createMeshMetrics()
    const statuses = [500, 404]
    const handler = metrics({ meter, service: 'payments' })(async () => reply(statuses.shift() as number))
    await handler(outboundCall())
    await handler(outboundCall())
    const text = await meter.registry.metrics()
    expect(sample(text, METRIC_NAMES.requests, { code: '500', fate: 'error' })).toBe(1)
    expect(sample(text, METRIC_NAMES.requests, { code: '404', fate: 'ok' })).toBe(1)
  })
})

describe('labels stay bounded', () => {
  it('a method outside the standard ones is _OTHER, and the raw path is never a label', async () => {
    const meter = createMeshMetrics()
    const handler = metrics({ meter, service: 'payments' })(async () => reply(200))
    for (let i = 0; i < 50; i++) await handler(outboundCall({ method: `X${i}`, path: `/users/${i}` }))
    const text = await meter.registry.metrics()
    expect(sample(text, METRIC_NAMES.requests, { method: '_OTHER' })).toBe(50)
    expect(text).not.toContain('/users/')
  })
})

describe('attempt observers', () => {
  it('one that throws leaves the call alone and is reported as a warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    onTestFinished(() => warn.mockRestore())
    const broken = {
      attempt() {
        throw new Error('observer bug')
      },
    }
    const handler = observeAttempts({ observers: [broken] })(async () => reply(200))

    const res = await handler(outboundCall())
    await new Promise((resolve) => setImmediate(resolve))

    expect(res.status).toBe(200)
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('observer bug'))
  })
})

describe('the registry', () => {
  it('is the one the user passes, never the global default', async () => {
    const { register } = await import('prom-client')
    const registry = new Registry()
    const meter = createMeshMetrics({ registry })
    expect(meter.registry).toBe(registry)
    expect(registry.getSingleMetric(METRIC_NAMES.requests)).toBeDefined()
    expect(register.getSingleMetric(METRIC_NAMES.requests)).toBeUndefined()
  })

  it('is shared by two meshes given the same one, without a duplicate-registration error', async () => {
    const registry = new Registry()
    const a = createMeshMetrics({ registry })
    const b = createMeshMetrics({ registry })
    await metrics({ meter: a, service: 'payments' })(async () => reply(200))(outboundCall())
    await metrics({ meter: b, service: 'payments' })(async () => reply(200))(outboundCall())
    expect(sample(await registry.metrics(), METRIC_NAMES.requests, { fate: 'ok' })).toBe(2)
  })

  it('serves endpoint and circuit states from the sources it is given', async () => {
    const meter = createMeshMetrics()
    meter.observeEndpoints(() => [
      { service: 'payments', endpoint: '127.0.0.1:8081', state: 'healthy' },
      { service: 'payments', endpoint: '127.0.0.1:8082', state: 'ejected' },
    ])
    meter.observeCircuits(() => [{ service: 'payments', state: 'open' }])
    const text = await meter.registry.metrics()
    expect(sample(text, METRIC_NAMES.endpointState, { endpoint: '127.0.0.1:8082', state: 'ejected' })).toBe(1)
    expect(sample(text, METRIC_NAMES.circuitState, { service: 'payments', state: 'open' })).toBe(1)
    expect(promtoolCheck(text).status).toBe(0)
  })

  it('sums the deadline and connection counts of distinct sources, and counts one object once', async () => {
    const meter = createMeshMetrics()
    const deadlines = { invalid: { 'x-weft-timeout': 3, 'grpc-timeout': 1 }, shed: 2, clamped: 0, expired: 1 }
    const other = { invalid: { 'x-weft-timeout': 4, 'grpc-timeout': 0 }, shed: 0, clamped: 5, expired: 0 }
    meter.observeInboundDeadlines(() => deadlines)
    meter.observeInboundDeadlines(() => deadlines)
    meter.observeInboundDeadlines(() => other)
    const server = { mtls: 7, tls: 1, plaintext: 2, refused: { plaintext: 3, handshake: 1, certificate: 0, timeout: 0 } }
    meter.observeConnections(() => [server, server])
    const text = await meter.registry.metrics()
    expect(sample(text, METRIC_NAMES.deadlineHeadersInvalid, { header: 'x-weft-timeout' })).toBe(7)
    expect(sample(text, METRIC_NAMES.inboundDeadlines, { outcome: 'shed' })).toBe(2)
    expect(sample(text, METRIC_NAMES.inboundDeadlines, { outcome: 'clamped' })).toBe(5)
    expect(sample(text, METRIC_NAMES.connections, { security: 'mtls' })).toBe(7)
    expect(sample(text, METRIC_NAMES.connectionsRefused, { reason: 'plaintext' })).toBe(3)
    expect(promtoolCheck(text).status).toBe(0)
  })

  it('counts the calls after a reset, from zero', async () => {
    const meter = createMeshMetrics()
    const handler = metrics({ meter, service: 'payments' })(async () => reply(200))
    await handler(outboundCall())
    meter.registry.resetMetrics()
    await handler(outboundCall())
    expect(sample(await meter.registry.metrics(), METRIC_NAMES.requests, { fate: 'ok' })).toBe(1)
  })

  it('rejects buckets that do not increase', () => {
    expect(() => createMeshMetrics({ buckets: [0.1, 0.05] })).toThrow(/increasing/)
  })
})
