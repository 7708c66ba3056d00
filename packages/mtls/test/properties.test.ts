/**
 * Property tests of what a peer controls: the SPIFFE ID in its certificate and the path of its
 * request. Whatever comes, the parsers never throw, a valid ID is exactly what the spec allows, and
 * normalizing a path twice changes nothing, so no encoding can slip a second form past a rule.
 * Seeded, so a failure repeats.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { charsOf, nearly } from '../../../test/support/properties.js'
import { normalizePath } from '../src/path-match.js'
import { parseSpiffeId, spiffeIdProblem } from '../src/spiffe-id.js'

const RUNS = { numRuns: 5000, seed: 20261204 }
const ID = 'spiffe://weft.local/ns/default/sa/checkout'

const near = (valid: string, alphabet: string) => nearly(valid, charsOf(alphabet))

describe('SPIFFE IDs, on any input', () => {
  it('never throw when checked; a valid one has only the characters the spec allows and splits back into itself', () => {
    fc.assert(
      fc.property(near(ID, 'spifeWL:/.-_@?#%,= AZaz09é'), (input) => {
        const problem = spiffeIdProblem(input)
        if (problem !== undefined) {
          expect(() => parseSpiffeId(input)).toThrow(problem)
          return
        }
        const id = parseSpiffeId(input)
        expect(input).toMatch(/^spiffe:\/\/[a-z0-9._-]{1,255}(\/[A-Za-z0-9._-]+)+$/)
        expect(id.path.split('/').slice(1)).not.toContain('..')
        expect(`spiffe://${id.trustDomain}${id.path}`).toBe(input)
      }),
      RUNS,
    )
  })
})

describe('request paths, on any input', () => {
  it('normalize to one absolute form with no dot segments, repeated slashes, query or encoded letters, and normalizing again changes nothing', () => {
    fc.assert(
      fc.property(near('/api/v1/%61dmin/../orders/./42?x=1', '/.%aA2e5F\\?#x0'), (raw) => {
        const path = normalizePath(raw)
        expect(path.startsWith('/')).toBe(true)
        expect(path).not.toMatch(/\/\/|\/\.\.?(\/|$)|[?#\\]|%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2D|2E|5F|7E)/i)
        expect(normalizePath(path)).toBe(path)
      }),
      RUNS,
    )
  })
})
