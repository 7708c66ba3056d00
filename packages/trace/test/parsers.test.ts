import { compose, type Reply } from '@weft/core'
import { describe, expect, it } from 'vitest'
import {
  createIdGenerator,
  extractContext,
  parseB3Multi,
  parseB3Single,
  parseBaggage,
  parseTraceparent,
  parseTracestate,
  trace,
} from '../src/index.js'
import { outbound } from './helpers.js'

const TRACE = '0af7651916cd43dd8448eb211c80319c'
const SPAN = 'b7ad6b7169203331'

describe('tracestate limits', () => {
  it('a header over 8 KiB is dropped unread', () => {
    expect(parseTracestate(`a=${'x'.repeat(8200)}`)).toBeUndefined()
  })

  it('past 512 characters, members over 128 characters go first, then the last ones', () => {
    const long = `big=${'v'.repeat(200)}`
    const small = Array.from({ length: 20 }, (_, i) => `k${i}=${'w'.repeat(20)}`)
    const out = parseTracestate([small[0], long, ...small.slice(1)].join(',')) as string
    expect(out.length).toBeLessThanOrEqual(512)
    expect(out).not.toContain('big=')
    expect(out.startsWith('k0=')).toBe(true)
  })

  it('a value with a control character discards the header', () => {
    expect(parseTracestate('foo=a\u0001b')).toBeUndefined()
  })
})

describe('baggage', () => {
  it('is passed on as it came when well-formed, properties included', () => {
    expect(parseBaggage('userId=alice, tier=gold;ttl=60')).toBe('userId=alice, tier=gold;ttl=60')
  })

  it.each([
    ['over 8 KiB', `k=${'v'.repeat(8200)}`],
    ['more than 180 members', Array.from({ length: 181 }, (_, i) => `k${i}=v`).join(',')],
    ['a control character', 'k=v\r\nx-injected: 1'],
    ['a key that is not a token', 'k y=v'],
    ['no key', '=v'],
  ])('is dropped with %s', (_, value) => {
    expect(parseBaggage(value)).toBeUndefined()
  })
})

describe('traceparent', () => {
  it('two headers joined by Node are invalid', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01, 00-${TRACE}-${SPAN}-01`)).toBeUndefined()
    expect(parseTraceparent([`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01`])).toBeUndefined()
  })

  it('keeps only the flags it knows on the way out', async () => {
    const sent: string[] = []
    const send = compose(trace())(async (call): Promise<Reply> => {
      sent.push(String(call.headers.traceparent))
      return { status: 200, headers: {}, body: undefined }
    })
    await send(outbound('/x', { traceparent: `00-${TRACE}-${SPAN}-ff` }))
    expect(sent[0]).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-03$`))
  })
})

describe('B3', () => {
  it('reads the single header, widening a 64-bit trace id', () => {
    expect(parseB3Single(`${SPAN}-${SPAN}-1`)).toEqual({ traceId: `0000000000000000${SPAN}`, parentId: SPAN, flags: 1 })
    expect(parseB3Single(`${TRACE}-${SPAN}-0-${SPAN}`)).toEqual({ traceId: TRACE, parentId: SPAN, flags: 0 })
    expect(parseB3Single('0')).toBeUndefined()
    expect(parseB3Single(`${TRACE}-${SPAN}-x`)).toBeUndefined()
  })

  it('reads the multi headers', () => {
    expect(parseB3Multi({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '0' })).toEqual({
      traceId: TRACE,
      parentId: SPAN,
      flags: 0,
    })
    expect(parseB3Multi({ 'x-b3-traceid': TRACE })).toBeUndefined()
  })

  it('is read only when enabled and no valid traceparent came', () => {
    const headers = { b3: `${TRACE}-${SPAN}-1` }
    expect(extractContext(headers).parent).toBeUndefined()
    expect(extractContext(headers, 1).parent?.traceId).toBe(TRACE)
    expect(extractContext({ ...headers, traceparent: `00-${'1'.repeat(32)}-${SPAN}-01` }, 1).parent?.traceId).toBe('1'.repeat(32))
  })

  it('is written beside traceparent when enabled', async () => {
    const seen: Record<string, unknown>[] = []
    const send = compose(trace({ propagators: ['b3', 'b3multi'] }))(async (call): Promise<Reply> => {
      seen.push({ ...call.headers })
      return { status: 200, headers: {}, body: undefined }
    })
    await send(outbound('/x', { traceparent: `00-${TRACE}-${SPAN}-01` }))
    const [, , spanId] = String(seen[0]?.traceparent).split('-')
    expect(seen[0]).toMatchObject({ b3: `${TRACE}-${spanId}-1`, 'x-b3-traceid': TRACE, 'x-b3-spanid': spanId, 'x-b3-sampled': '1' })
  })

  it('an unknown propagator is refused with WEFT_INVALID_ARGUMENT when the layer is made', () => {
    expect(() => trace({ propagators: ['jaeger' as 'b3'] })).toThrow(
      expect.objectContaining({ code: 'WEFT_INVALID_ARGUMENT', message: expect.stringMatching(/unknown propagator "jaeger"/) }),
    )
  })
})

describe('ids', () => {
  it('are lower-case hex of the right length and do not repeat', () => {
    const ids = createIdGenerator()
    const seen = new Set<string>()
    for (let i = 0; i < 5000; i++) {
      const t = ids.traceId()
      const s = ids.spanId()
      expect(t).toMatch(/^[0-9a-f]{32}$/)
      expect(s).toMatch(/^[0-9a-f]{16}$/)
      seen.add(s)
    }
    expect(seen.size).toBe(5000)
  })
})
