import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inboundTrace, trace } from '../src/index.js'
import { PARENT_ID, TRACE_ID, TRACEPARENT_CASES, TRACESTATE_CASES } from './harness-cases.js'
import { check, type Listening, listen, recorder, send, testService } from './helpers.js'

// The W3C trace-context suite's cases over real HTTP: the harness sends headers to a service,
// the service calls the harness back through weft, and the callback's headers are checked.
let harness: Awaited<ReturnType<typeof recorder>>
let service: Listening

beforeAll(async () => {
  harness = await recorder()
  service = await listen(testService(inboundTrace(), trace(), harness.url))
})
afterAll(() => Promise.all([harness.close(), service.close()]))

async function callback(headers: [string, string][], count = 1) {
  const before = harness.seen.length
  const status = await send(
    service.url,
    headers,
    Array.from({ length: count }, (_, i) => `${harness.url}/callback/${i}`),
  )
  expect(status).toBe(200)
  return harness.seen.slice(before)
}

describe('traceparent, as the W3C suite checks it', () => {
  it.each(TRACEPARENT_CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const [received] = await callback(c.headers)
    check(received as [string, string][], c.expect)
  })
})

describe('tracestate, as the W3C suite checks it at STRICT_LEVEL 2', () => {
  it.each(TRACESTATE_CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const [received] = await callback(c.headers)
    check(received as [string, string][], c.expect)
  })
})

describe('several calls while serving one request', () => {
  it('keep the valid inbound trace id, each with its own parent id', async () => {
    const received = await callback([['traceparent', `00-${TRACE_ID}-${PARENT_ID}-01`]], 3)
    const ids = received.map((r) => check(r, { sameTrace: TRACE_ID }))
    expect(new Set(ids.map((i) => i.parentId)).size).toBe(3)
  })

  it('share one new trace when none came, each with its own parent id', async () => {
    const received = await callback([], 3)
    const ids = received.map((r) => check(r, {}))
    expect(new Set(ids.map((i) => i.traceId)).size).toBe(1)
    expect(new Set(ids.map((i) => i.parentId)).size).toBe(3)
  })

  it('start one new trace when the inbound one is invalid', async () => {
    const received = await callback([['traceparent', `00-00000000000000000000000000000000-${PARENT_ID}-01`]], 3)
    const ids = received.map((r) => check(r, { notTrace: ['00000000000000000000000000000000'] }))
    expect(new Set(ids.map((i) => i.parentId)).size).toBe(3)
  })
})
