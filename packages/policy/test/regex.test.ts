/** The regex rule (docs/policy.md, "Regex matchers"): only patterns that backtrack in linear time are accepted. */
import { describe, expect, it } from 'vitest'
import { compileRegexMatcher, parsePolicy } from '../src/index.js'
import { regexProblem } from '../src/regex-safety.js'
import { linesOf, payments } from './helpers.js'

const withPathRegex = (regex: string) => payments({ routes: [{ match: { path: { regex } } }] })

describe('regex matchers in a policy', () => {
  it('a catastrophic pattern is refused at load, with the path of the matcher', () => {
    expect(linesOf(withPathRegex('^/(a+)+$'))).toEqual([
      'services.payments.routes[0].match.path.regex: regex nests a quantifier inside a repeated group, as in (a+)+ or (.*)*: catastrophic backtracking',
    ])
  })

  it('a pattern that does not compile is refused with the engine’s reason', () => {
    expect(linesOf(withPathRegex('/api/(v1'))[0]).toMatch(
      /^services\.payments\.routes\[0\]\.match\.path\.regex: regex does not compile: .*Unterminated group/,
    )
  })

  it('a pattern over 256 characters is refused', () => {
    expect(linesOf(withPathRegex(`/${'a'.repeat(300)}`))[0]).toContain('regex of 301 characters is longer than the limit of 256')
  })

  it('header and query matchers are checked too', () => {
    const doc = payments({ routes: [{ match: { headers: { 'x-user': { regex: '(.*)*' } }, query: { q: { regex: '(a|a)*' } } } }] })
    expect(linesOf(doc).map((l) => l.split(': ')[0])).toEqual([
      'services.payments.routes[0].match.headers.x-user.regex',
      'services.payments.routes[0].match.query.q.regex',
    ])
  })

  it('a safe pattern is kept as written', () => {
    const route = parsePolicy(withPathRegex('/users/[0-9]+/orders/[^/]+')).services.payments?.routes[0]
    expect(route?.match[0]?.path).toEqual({ regex: '/users/[0-9]+/orders/[^/]+' })
  })
})

describe('regexProblem', () => {
  it.each([
    ['(a+)+', 'nests a quantifier'],
    ['(.*)*', 'nests a quantifier'],
    ['(a*)*b', 'nests a quantifier'],
    ['([a-z]+){2,}', 'nests a quantifier'],
    ['(ab?)+', 'nests a quantifier'],
    ['((a)+)+', 'nests a quantifier'],
    ['(a|a)*', 'holds an alternation'],
    ['(a|ab)+', 'holds an alternation'],
    ['(?:x|y){3,}', 'holds an alternation'],
    ['.*foo.*', 'two repetitions'],
    ['\\d+\\d+', 'two repetitions'],
    ['[a-z]+-?[a-z]+', 'two repetitions'],
    ['/a/.*/b/.*', 'two repetitions'],
    ['.{0,100}x.{0,100}', 'two repetitions'],
    ['(\\w+)\\1', 'backreferences'],
    ['(?<n>a)\\k<n>', 'backreferences'],
    ['/(?!admin)', 'lookarounds'],
    ['(?<=a)b', 'lookarounds'],
  ])('refuses %s (%s)', (pattern, reason) => {
    expect(regexProblem(pattern)).toContain(reason)
  })

  it.each([
    ['/api/v[0-9]+'],
    ['/users/[^/]+/orders/[^/]+'],
    ['[0-9]+\\.[0-9]+'],
    ['/(api|v1)/.*'],
    ['(/[a-z]){1,3}'],
    ['(?:ab)+c'],
    ['[a-z]+[0-9]+'],
    ['v[12]'],
    ['.*'],
    ['/static/[^?]*\\.(js|css)'],
    ['[\\]a-]+x'],
    ['/a/[^/]*/b/.*'],
    ['[/a-z]+'],
  ])('accepts %s', (pattern) => {
    expect(regexProblem(pattern)).toBeUndefined()
  })

  it('an empty pattern is refused', () => {
    expect(regexProblem('')).toBe('regex is empty')
  })
})

describe('compileRegexMatcher', () => {
  it('matches the whole value, as Envoy’s safe_regex does', () => {
    const re = compileRegexMatcher('/api/v[0-9]+')
    expect(re.test('/api/v2')).toBe(true)
    expect(re.test('/x/api/v2')).toBe(false)
    expect(re.test('/api/v2/users')).toBe(false)
  })

  it('keeps an alternation whole: a|b means the whole value is a or b', () => {
    const re = compileRegexMatcher('a|b')
    expect(re.test('a')).toBe(true)
    expect(re.test('ab')).toBe(false)
  })
})
