/** Arbitraries for the property tests of hostile input (fast-check), shared by the packages' tests. */
import fc from 'fast-check'

/** `valid` with one to `maxEdits` characters replaced, inserted or dropped; new ones drawn from `chars`. */
export function edited(valid: string, chars: fc.Arbitrary<string>, maxEdits = 4): fc.Arbitrary<string> {
  return fc
    .array(fc.tuple(fc.nat({ max: valid.length }), fc.oneof(chars, fc.constant('')), fc.boolean()), { minLength: 1, maxLength: maxEdits })
    .map((edits) => edits.reduce((s, [at, c, insert]) => s.slice(0, at) + c + s.slice(insert ? at : at + 1), valid))
}

/**
 * Inputs near a valid value: `anything` (default: any string), strings of the value's own alphabet
 * `chars`, the value edited a little, and the value itself.
 */
export function nearly(
  valid: string,
  chars: fc.Arbitrary<string>,
  anything: fc.Arbitrary<string> = fc.string({ unit: 'binary', maxLength: 80 }),
): fc.Arbitrary<string> {
  return fc.oneof(anything, fc.string({ unit: chars, maxLength: 80 }), edited(valid, chars), fc.constant(valid))
}

/** Each character of `alphabet`, for `nearly`'s `chars`. */
export const charsOf = (alphabet: string): fc.Arbitrary<string> => fc.constantFrom(...alphabet)
