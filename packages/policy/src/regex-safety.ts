/**
 * The regex rule: a matcher pattern is accepted only when V8's backtracking engine runs it in
 * linear time on any input. Regex matchers match the WHOLE value (as Envoy's `safe_regex` does), so
 * they are compiled anchored, `^(?:pattern)$`, which keeps one repetition linear. What is refused:
 *
 * 1. patterns over `maxRegexLength` (256) characters, and patterns `new RegExp` does not compile;
 * 2. backreferences (`\1`, `\k<name>`) and lookarounds (`(?=`, `(?!`, `(?<=`, `(?<!`);
 * 3. a repeated group (`*`, `+`, `{n,}`, `{n,m}` with m > 1) that holds a quantifier or an
 *    alternation: `(a+)+`, `(.*)*`, `(a|a)*`, `(ab?)+` (star height above one: exponential);
 * 4. two repetitions (`*`, `+`, or a bound of 32 and more) in one sequence that can match the same
 *    text with nothing but text they both match in between: `.*foo.*`, `\d+\d+`, `[a-z]+-?[a-z]+`
 *    (polynomial: a 16 KiB path would cost seconds). `[^/]+/[^/]+` is fine: the `/` between them
 *    cannot be matched by either.
 */

/** Compiles a regex matcher the way the mesh runs it: anchored, so it matches the whole value. */
export function compileRegexMatcher(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`)
}

/** Why `pattern` is refused, or `undefined` when it is safe. */
export function regexProblem(pattern: string, maxLength = 256): string | undefined {
  if (pattern.length === 0) return 'regex is empty'
  if (pattern.length > maxLength) return `regex of ${pattern.length} characters is longer than the limit of ${maxLength}`
  try {
    compileRegexMatcher(pattern)
  } catch (err) {
    return `regex does not compile: ${(err as Error).message}`
  }
  try {
    const ast = new RegexParser(pattern).parse()
    return starHeightProblem(ast, false) ?? overlapProblem(ast)
  } catch (err) {
    if (err instanceof Refused) return err.message
    throw err
  }
}

// ---- character sets: sorted, disjoint, inclusive UTF-16 code unit ranges --------------------------

type CharSet = readonly (readonly [number, number])[]
const MAX_UNIT = 0xffff

function normalize(ranges: [number, number][]): CharSet {
  ranges.sort((a, b) => a[0] - b[0])
  const out: [number, number][] = []
  for (const r of ranges) {
    const last = out[out.length - 1]
    if (last !== undefined && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1])
    else out.push([r[0], r[1]])
  }
  return out
}
const union = (a: CharSet, b: CharSet): CharSet => normalize([...a, ...b].map((r) => [r[0], r[1]]))
function complement(a: CharSet): CharSet {
  const out: [number, number][] = []
  let next = 0
  for (const [lo, hi] of a) {
    if (lo > next) out.push([next, lo - 1])
    next = hi + 1
  }
  if (next <= MAX_UNIT) out.push([next, MAX_UNIT])
  return out
}
function intersect(a: CharSet, b: CharSet): CharSet {
  const out: [number, number][] = []
  for (const [alo, ahi] of a)
    for (const [blo, bhi] of b) {
      const lo = Math.max(alo, blo)
      const hi = Math.min(ahi, bhi)
      if (lo <= hi) out.push([lo, hi])
    }
  return normalize(out)
}
const single = (c: number): CharSet => [[c, c]]
const DIGIT: CharSet = [[0x30, 0x39]]
const WORD: CharSet = normalize([
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
])
const SPACE: CharSet = normalize(
  [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff]
    .map((c): [number, number] => [c, c])
    .concat([[0x2000, 0x200a]]),
)
const DOT: CharSet = complement(
  normalize([
    [0x0a, 0x0a],
    [0x0d, 0x0d],
    [0x2028, 0x2029],
  ]),
)
const NOTHING: CharSet = []

// ---- a parser for the subset of JS regex syntax that matters here -------------------------------

interface Item {
  atom: { kind: 'set'; set: CharSet } | { kind: 'group'; body: Alternation } | { kind: 'anchor' }
  min: number
  max: number
}
type Sequence = Item[]
type Alternation = Sequence[]

class Refused extends Error {}

class RegexParser {
  #i = 0
  constructor(readonly source: string) {}

  parse(): Alternation {
    const alt = this.#alternation()
    if (this.#i < this.source.length) throw new Refused(`regex: unexpected ${this.source[this.#i]}`)
    return alt
  }

  #peek(): string | undefined {
    return this.source[this.#i]
  }

  #alternation(): Alternation {
    const options: Alternation = [this.#sequence()]
    while (this.#peek() === '|') {
      this.#i++
      options.push(this.#sequence())
    }
    return options
  }

  #sequence(): Sequence {
    const items: Sequence = []
    for (let c = this.#peek(); c !== undefined && c !== '|' && c !== ')'; c = this.#peek()) {
      const atom = this.#atom()
      const [min, max] = this.#quantifier()
      items.push({ atom, min, max })
    }
    return items
  }

  #atom(): Item['atom'] {
    const c = this.source[this.#i++] as string
    switch (c) {
      case '^':
      case '$':
        return { kind: 'anchor' }
      case '.':
        return { kind: 'set', set: DOT }
      case '[':
        return { kind: 'set', set: this.#class() }
      case '(':
        return this.#group()
      case '\\':
        return this.#escape(false)
      default:
        return { kind: 'set', set: single(c.charCodeAt(0)) }
    }
  }

  #group(): Item['atom'] {
    const rest = this.source.slice(this.#i, this.#i + 3)
    if (rest.startsWith('?=') || rest.startsWith('?!') || rest.startsWith('?<=') || rest.startsWith('?<!')) {
      throw new Refused('regex lookarounds ((?=, (?!, (?<=, (?<!) are not allowed')
    }
    if (rest.startsWith('?:')) this.#i += 2
    else if (rest.startsWith('?<')) this.#i = this.source.indexOf('>', this.#i) + 1
    else if (rest.startsWith('?')) throw new Refused('regex group modifiers are not allowed')
    const body = this.#alternation()
    this.#i++ // ')'
    return { kind: 'group', body }
  }

  #escape(inClass: boolean): Item['atom'] & { kind: 'set' | 'anchor' } {
    const c = this.source[this.#i++] as string
    switch (c) {
      case 'd':
        return { kind: 'set', set: DIGIT }
      case 'D':
        return { kind: 'set', set: complement(DIGIT) }
      case 'w':
        return { kind: 'set', set: WORD }
      case 'W':
        return { kind: 'set', set: complement(WORD) }
      case 's':
        return { kind: 'set', set: SPACE }
      case 'S':
        return { kind: 'set', set: complement(SPACE) }
      case 'b':
        return inClass ? { kind: 'set', set: single(8) } : { kind: 'anchor' }
      case 'B':
        return { kind: 'anchor' }
      case 'k':
        throw new Refused('regex backreferences (\\k<name>) are not allowed')
      case 'n':
        return { kind: 'set', set: single(10) }
      case 'r':
        return { kind: 'set', set: single(13) }
      case 't':
        return { kind: 'set', set: single(9) }
      case 'v':
        return { kind: 'set', set: single(11) }
      case 'f':
        return { kind: 'set', set: single(12) }
      case 'x':
      case 'u': {
        const len = c === 'x' ? 2 : 4
        const hex = this.source.slice(this.#i, this.#i + len)
        if (/^[0-9a-fA-F]+$/.test(hex) && hex.length === len) {
          this.#i += len
          return { kind: 'set', set: single(Number.parseInt(hex, 16)) }
        }
        return { kind: 'set', set: single(c.charCodeAt(0)) }
      }
      case 'c': {
        const letter = this.source[this.#i]
        if (letter !== undefined && /[A-Za-z]/.test(letter)) {
          this.#i++
          return { kind: 'set', set: single(letter.charCodeAt(0) % 32) }
        }
        return { kind: 'set', set: single(0x5c) }
      }
      default:
        if (!inClass && /[1-9]/.test(c)) throw new Refused('regex backreferences (\\1 … \\9) are not allowed')
        if (c === '0') return { kind: 'set', set: single(0) }
        return { kind: 'set', set: single(c.charCodeAt(0)) }
    }
  }

  #class(): CharSet {
    let negated = false
    if (this.#peek() === '^') {
      negated = true
      this.#i++
    }
    const parts: CharSet[] = []
    while (this.#i < this.source.length && this.#peek() !== ']') {
      const lo = this.#classAtom()
      if (this.#peek() === '-' && this.source[this.#i + 1] !== ']' && this.#i + 1 < this.source.length && lo.length === 1) {
        const save = this.#i
        this.#i++
        const hi = this.#classAtom()
        const a = lo[0]
        const b = hi[0]
        if (hi.length === 1 && a !== undefined && b !== undefined && a[0] === a[1] && b[0] === b[1]) {
          parts.push([[a[0], b[0]]])
          continue
        }
        this.#i = save
      }
      parts.push(lo)
    }
    this.#i++ // ']'
    const set = parts.reduce(union, NOTHING)
    return negated ? complement(set) : set
  }

  #classAtom(): CharSet {
    const c = this.source[this.#i++] as string
    if (c !== '\\') return single(c.charCodeAt(0))
    const atom = this.#escape(true)
    return atom.kind === 'set' ? atom.set : NOTHING
  }

  #quantifier(): [number, number] {
    const c = this.#peek()
    let bounds: [number, number] | undefined
    if (c === '*') bounds = [0, Number.POSITIVE_INFINITY]
    else if (c === '+') bounds = [1, Number.POSITIVE_INFINITY]
    else if (c === '?') bounds = [0, 1]
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.#i))
      if (m === null) return [1, 1] // a literal `{`, as non-unicode regexes allow
      const min = Number(m[1])
      const max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3])
      this.#i += m[0].length - 1
      bounds = [min, max]
    }
    if (bounds === undefined) return [1, 1]
    this.#i++
    if (this.#peek() === '?') this.#i++ // lazy: same backtracking, other order
    return bounds
  }
}

// ---- the rules ----------------------------------------------------------------------------------

/** Rule 3: inside a repeated group, no quantifier and no alternation. */
function starHeightProblem(alt: Alternation, insideRepeat: boolean): string | undefined {
  if (insideRepeat && alt.length > 1) return 'regex repeats a group that holds an alternation, as in (a|a)*: catastrophic backtracking'
  for (const seq of alt)
    for (const item of seq) {
      const repeated = item.max > 1
      if (insideRepeat && (item.min !== 1 || item.max !== 1)) {
        return 'regex nests a quantifier inside a repeated group, as in (a+)+ or (.*)*: catastrophic backtracking'
      }
      if (item.atom.kind === 'group') {
        const problem = starHeightProblem(item.atom.body, insideRepeat || repeated)
        if (problem !== undefined) return problem
      }
    }
  return undefined
}

/** A repetition this long is treated as unbounded by rule 4. */
const LONG_REPEAT = 32

interface Element {
  set: CharSet
  min: number
  unbounded: boolean
}

/** Rule 4: two repetitions that can share text, with only shareable text between them. */
function overlapProblem(alt: Alternation): string | undefined {
  for (const seq of alt) {
    const elements = flatten(seq)
    for (let i = 0; i < elements.length; i++) {
      const a = elements[i] as Element
      if (!a.unbounded) continue
      for (let j = i + 1; j < elements.length; j++) {
        const b = elements[j] as Element
        if (!b.unbounded) continue
        const shared = intersect(a.set, b.set)
        if (shared.length === 0) continue
        // the text between them must be made of shared characters too, or there is one way to split
        if (elements.slice(i + 1, j).every((m) => m.min === 0 || intersect(shared, m.set).length > 0)) {
          return 'regex has two repetitions that can match the same text (as in .*foo.* or \\d+\\d+): polynomial backtracking; use a narrower class such as [^/]+'
        }
      }
    }
    for (const item of seq) {
      if (item.atom.kind === 'group') {
        const problem = overlapProblem(item.atom.body)
        if (problem !== undefined) return problem
      }
    }
  }
  return undefined
}

/** A sequence as elements: plain groups are inlined; other groups become one element with all their characters. */
function flatten(seq: Sequence): Element[] {
  const out: Element[] = []
  for (const item of seq) {
    const { atom } = item
    if (atom.kind === 'anchor') continue
    const unbounded = item.max >= LONG_REPEAT
    if (atom.kind === 'set') {
      out.push({ set: atom.set, min: item.min, unbounded })
      continue
    }
    if (atom.body.length === 1 && item.min === 1 && item.max === 1) {
      out.push(...flatten(atom.body[0] as Sequence))
      continue
    }
    // a group with alternatives, or a repeated one: conservatively, any of its characters, possibly none
    const inner = atom.body.flatMap(flatten)
    out.push({ set: inner.map((e) => e.set).reduce(union, NOTHING), min: 0, unbounded: unbounded || inner.some((e) => e.unbounded) })
  }
  return out
}
