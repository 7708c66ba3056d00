/**
 * Property tests of the inbound trace header parsers: whatever a caller sends, they never throw,
 * and what they pass on is well-formed (BAD-INPUT: "never throw from a header parser into the
 * request path"). Seeded, so a failure repeats; fast-check shrinks it to a small counterexample.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { charsOf, nearly } from '../../../test/support/properties.js'
import { extractContext, parseB3Multi, parseB3Single, parseBaggage, parseTraceparent, parseTracestate } from '../src/index.js'

const RUNS = { numRuns: 3000, seed: 20261204 }
const VALID_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'

/** Near a valid value, with a header's own alphabet and the characters that break parsers. */
const near = (valid: string, alphabet: string) => nearly(valid, fc.oneof(charsOf(alphabet), charsOf('\t \u0000é')))

const header = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }))

describe('trace header parsers, on any input', () => {
  it('traceparent: never throws, and a parsed one has lower-case non-zero ids of the right length', () => {
    fc.assert(
      fc.property(near(VALID_TRACEPARENT, '0123456789abcdefABCDEF-'), (value) => {
        const parsed = parseTraceparent(value)
        if (parsed === undefined) return
        expect(parsed.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/)
        expect(parsed.parentId).toMatch(/^(?!0{16})[0-9a-f]{16}$/)
        expect(Number.isInteger(parsed.flags) && parsed.flags >= 0 && parsed.flags <= 255).toBe(true)
      }),
      RUNS,
    )
  })

  it('tracestate: never throws; what it passes on is at most 32 valid members in 512 characters, and reads back the same', () => {
    // Trace Context Level 2's key grammar, as the W3C suite tests it (`tenant@system` with no length split)
    const key = /^[a-z0-9][a-z0-9_\-*/@]{0,255}$/
    fc.assert(
      fc.property(fc.oneof(near('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', 'abz09=,@*/- '), header), (value) => {
        const out = parseTracestate(value)
        if (out === undefined) return
        expect(out.length).toBeLessThanOrEqual(512)
        const members = out.split(',')
        expect(members.length).toBeLessThanOrEqual(32)
        for (const m of members) {
          const eq = m.indexOf('=')
          expect(m.slice(0, eq)).toMatch(key)
          expect(m.slice(eq + 1)).toMatch(/^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/)
        }
        expect(parseTracestate(out)).toBe(out)
      }),
      RUNS,
    )
  })

  it('baggage: never throws; what it passes on is printable, within 8 KiB, and reads back the same', () => {
    fc.assert(
      fc.property(fc.oneof(near('userId=alice,tier=gold;ttl=60', 'az09=,;% '), header), (value) => {
        const out = parseBaggage(value)
        if (out === undefined) return
        expect(out.length).toBeLessThanOrEqual(8192)
        expect(out).toMatch(/^[\t\x20-\x7e]*$/)
        expect(parseBaggage(out)).toBe(out)
      }),
      RUNS,
    )
  })

  it('b3: never throws, and a parsed one has non-zero ids of the right length', () => {
    fc.assert(
      fc.property(
        near('80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1', '0123456789abcdef-01d'),
        header,
        header,
        (single, id, span) => {
          for (const parsed of [parseB3Single(single), parseB3Multi({ 'x-b3-traceid': id, 'x-b3-spanid': span } as never)]) {
            if (parsed === undefined) continue
            expect(parsed.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/)
            expect(parsed.parentId).toMatch(/^(?!0{16})[0-9a-f]{16}$/)
          }
        },
      ),
      RUNS,
    )
  })

  it('a whole header map of garbage never throws, and gives a valid context or none', () => {
    const names = fc.constantFrom(
      'traceparent',
      'tracestate',
      'baggage',
      'b3',
      'x-b3-traceid',
      'x-b3-spanid',
      'x-b3-sampled',
      '__proto__',
      'constructor',
    )
    fc.assert(
      fc.property(fc.dictionary(names, header, { maxKeys: 6 }), (headers) => {
        const context = extractContext(headers as never, 0b11)
        if (context.parent !== undefined) expect(context.parent.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/)
      }),
      RUNS,
    )
  })
})
