/** BAD-INPUT.md, "Policy documents": one test per row, and one per rule the rows stand for. */
import { afterEach, describe, expect, it } from 'vitest'
import { parsePolicy } from '../src/index.js'
import { fixture, issuesOf, linesOf, payments, refusal, withServices } from './helpers.js'

describe('not a policy at all', () => {
  it('text that is not JSON is refused, saying so', () => {
    expect(issuesOf('{"apiVersion": "weft.dev/v1", }')).toEqual([
      { path: '', message: expect.stringMatching(/^not valid JSON: .*position 30/), line: 1, column: 31 },
    ])
  })

  it('text that is not YAML is refused with the line and column', () => {
    const [issue] = issuesOf('apiVersion: weft.dev/v1\nservices:\n  payments: { endpoints: [127.0.0.1:8081 }\n')
    expect(issue).toMatchObject({ path: '', message: expect.stringMatching(/^not valid YAML: /), line: 3 })
    expect(issue?.column).toBeGreaterThan(0)
  })

  it('an empty document is refused', () => {
    expect(linesOf('')).toEqual([': document is empty'])
  })

  it('a document of only comments and blank lines is refused as empty', () => {
    expect(linesOf('# nothing here\n\n   \n')).toEqual([': document is empty'])
  })

  it('a YAML list is refused: a policy is a mapping', () => {
    expect(linesOf('- apiVersion: weft.dev/v1\n')).toEqual([': expected a mapping with apiVersion and services, got a list'])
  })

  it('a missing apiVersion is refused, saying what to write', () => {
    expect(linesOf({ services: {} })).toEqual(['apiVersion: required: write apiVersion: weft.dev/v1'])
  })

  it('an unknown apiVersion is refused, naming the one this weft reads', () => {
    expect(linesOf('apiVersion: weft.dev/v9\nservices: {}\n')).toEqual([
      'apiVersion: unsupported version string "weft.dev/v9"; this weft reads weft.dev/v1',
    ])
  })

  it('the error is WEFT_POLICY_INVALID, names the source, and its message lists the issues', () => {
    const err = refusal(payments({ retires: 3 }), { source: './mesh.yaml' })
    expect(err.message).toBe('policy ./mesh.yaml is invalid (1 issue): services.payments.retires: unknown key (did you mean retries?)')
    expect(err.details.source).toBe('./mesh.yaml')
  })
})

describe('fields', () => {
  it('an unknown key (retires:) is refused with its path, and the key it probably meant', () => {
    expect(linesOf(payments({ retires: { attempts: 3 } }))).toEqual(['services.payments.retires: unknown key (did you mean retries?)'])
  })

  it('an unknown key is refused at every level: top, defaults, route, matcher', () => {
    const doc = withServices(
      { payments: { routes: [{ match: { path: { exact: '/a', suffix: 'b' } }, colour: 'red' }] } },
      { kind: 'Mesh', defaults: { timeouts: '1s' } },
    )
    expect(linesOf(doc).sort()).toEqual([
      'defaults.timeouts: unknown key (did you mean timeout?)',
      'kind: unknown key',
      'services.payments.routes[0].colour: unknown key',
      'services.payments.routes[0].match.path.suffix: unknown key',
    ])
  })

  it('a wrong type is refused, naming what was expected and what came', () => {
    expect(linesOf(payments({ retries: { attempts: 'three' } }))).toEqual([
      'services.payments.retries.attempts: expected a number, got string "three"',
    ])
  })

  it('a fraction where a count is expected is refused', () => {
    expect(linesOf(payments({ retries: { attempts: 2.5 } }))).toEqual([
      'services.payments.retries.attempts: expected an integer, got number 2.5',
    ])
  })

  it('null is not the same as leaving a field out', () => {
    expect(linesOf('apiVersion: weft.dev/v1\nservices:\n  payments:\n    mtls:\n')).toEqual([
      'services.payments.mtls: expected "STRICT" or "PERMISSIVE" or "DISABLE", got null',
    ])
  })

  it.each([
    ['-1s', 'invalid duration "-1s"'],
    ['10 s', 'invalid duration "10 s"'],
    ['1e400ms', 'invalid duration "1e400ms"'],
    ['9999999999h', 'invalid duration "9999999999h"'],
    ['1000h', 'longer than the maximum'],
    [-5, 'must be a finite, non-negative number'],
    [true, 'expected a duration'],
  ])('the duration %j is refused with its path', (timeout, message) => {
    const [line] = linesOf(payments({ timeout }))
    expect(line).toContain('services.payments.timeout: ')
    expect(line).toContain(message)
  })

  it('a zero timeout is refused: it would fail every call', () => {
    expect(linesOf(payments({ timeout: 0 }))).toEqual(['services.payments.timeout: must be longer than 0'])
  })

  it('a percent over 100 is refused', () => {
    const route = { match: { path: '/a' }, fault: { abort: { status: 503, percent: 150 } } }
    expect(linesOf(payments({ routes: [route] }))).toEqual([
      'services.payments.routes[0].fault.abort.percent: must be at most 100, got number 150',
    ])
  })

  it('a percent under 0 is refused', () => {
    const route = { match: { path: '/a' }, fault: { delay: { fixed: '1s', percent: -1 } } }
    expect(linesOf(payments({ routes: [route] }))).toEqual([
      'services.payments.routes[0].fault.delay.percent: must be at least 0, got number -1',
    ])
  })

  it('every unknown key in one mapping is refused, not only the first', () => {
    expect(linesOf(payments({ retires: 1, timout: '1s' }))).toEqual([
      'services.payments.retires: unknown key (did you mean retries?)',
      'services.payments.timout: unknown key (did you mean timeout?)',
    ])
  })

  it('a list where a mapping goes is refused as a list', () => {
    expect(linesOf(payments({ retries: [{ attempts: 2 }] }))).toEqual(['services.payments.retries: expected a mapping, got a list'])
    expect(linesOf(payments({ subsets: [{ version: 'v1' }] }))).toEqual(['services.payments.subsets: expected a record, got a list'])
  })

  it('a refused service name is the one issue of that service: its fields are not checked', () => {
    expect(linesOf(withServices({ Payments_v2: { mtls: 'nope', endpoints: [] } }))).toEqual([
      'services.Payments_v2: invalid key: service name must be a lower-case DNS name: letters, digits and "-", dot-separated labels of at most 63 characters',
    ])
  })

  it('a fraction where a count goes does not hide the service’s other issues', () => {
    expect(linesOf(payments({ retries: { attempts: 2.5 }, endpoints: [] }))).toEqual([
      'services.payments.retries.attempts: expected an integer, got number 2.5',
      'services.payments.endpoints: is empty: list at least one endpoint, or leave endpoints out',
    ])
  })

  it('every issue is reported, not only the first', () => {
    const err = refusal(
      payments({ timeout: '-1s', retires: 1, mtls: 'strict', endpoints: ['nope'], routes: [{ split: [{ subset: 'v9' }] }] }),
    )
    expect(err.details.issues.map((i) => i.path).sort()).toEqual([
      'services.payments.endpoints[0]',
      'services.payments.mtls',
      'services.payments.retires',
      'services.payments.routes[0].split[0].subset',
      'services.payments.timeout',
    ])
    expect(err.message).toContain('(5 issues)')
  })

  it('the message spells out the first five issues and counts the rest', () => {
    const services = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`s${i}`, { mtls: 'nope' }]))
    const err = refusal(withServices(services))
    expect(err.message).toMatch(/\(8 issues\): .*; and 3 more$/)
    expect(err.details.issues).toHaveLength(8)
  })
})

describe('splits, endpoints and routes', () => {
  const split = (...weights: number[]) =>
    payments({
      subsets: { v1: { version: 'v1' }, v2: { version: 'v2' } },
      routes: [{ split: weights.map((weight, i) => ({ subset: `v${i + 1}`, weight })) }],
    })

  it('weights that sum to 0 are refused with the path of the split', () => {
    expect(linesOf(split(0, 0))).toEqual(['services.payments.routes[0].split: weights sum to 0'])
  })

  it('a negative weight is refused', () => {
    expect(linesOf(split(-1, 2))).toEqual(['services.payments.routes[0].split[0].weight: must be at least 0, got number -1'])
  })

  it('weights are ratios: any positive sum is fine', () => {
    expect(parsePolicy(split(3, 1)).services.payments?.routes[0]?.split).toEqual([
      { subset: 'v1', weight: 3 },
      { subset: 'v2', weight: 1 },
    ])
  })

  it('a split naming an unknown subset is refused, listing the known ones', () => {
    const doc = payments({
      subsets: { v1: { version: 'v1' } },
      routes: [{ match: { path: '/a' }, split: [{ subset: 'v1' }, { subset: 'v3' }] }],
    })
    expect(linesOf(doc)).toEqual(['services.payments.routes[0].split[1].subset: unknown subset v3 (subsets: v1)'])
  })

  it('a mirror naming an unknown subset is refused', () => {
    expect(linesOf(payments({ routes: [{ mirror: { subset: 'shadow' } }] }))).toEqual([
      'services.payments.routes[0].mirror.subset: unknown subset shadow (the service defines no subsets)',
    ])
  })

  it('an empty endpoint list is refused', () => {
    expect(linesOf(payments({ endpoints: [] }))).toEqual([
      'services.payments.endpoints: is empty: list at least one endpoint, or leave endpoints out',
    ])
  })

  it('endpoints and discovery together are refused', () => {
    expect(linesOf(payments({ endpoints: ['127.0.0.1:1'], discovery: { file: { path: './eps.json' } } }))).toEqual([
      'services.payments.discovery: give endpoints or discovery, not both',
    ])
  })

  it('the same endpoint twice is refused', () => {
    expect(linesOf(payments({ endpoints: ['127.0.0.1:1', { address: '127.0.0.1:1' }] }))).toEqual([
      'services.payments.endpoints[1]: duplicate endpoint 127.0.0.1:1 (also endpoints[0])',
    ])
  })

  it.each([['localhost'], ['127.0.0.1:99999'], ['::1:8080'], ['[::1:8080'], ['[nope]:80'], ['exa mple:80'], ['1.2.3:80']])(
    'the endpoint address %s is refused',
    (address) => {
      const [issue] = issuesOf(payments({ endpoints: [{ address }] }))
      expect(issue?.path).toBe('services.payments.endpoints[0].address')
    },
  )

  it('IPv6 endpoints are written in brackets, and their host has none', () => {
    const [endpoint] = parsePolicy(payments({ endpoints: ['[::1]:8080'] })).services.payments?.endpoints ?? []
    expect(endpoint).toEqual({ address: '[::1]:8080', host: '::1', port: 8080, labels: {}, weight: 1 })
  })

  it('duplicate route names are refused', () => {
    const doc = payments({
      routes: [
        { name: 'charge', match: { path: '/a' } },
        { name: 'charge', match: { path: '/b' } },
      ],
    })
    expect(linesOf(doc)).toEqual(['services.payments.routes[1].name: duplicate route name charge (also routes[0])'])
  })

  it('a given name that equals a generated one is a duplicate too', () => {
    const doc = payments({ routes: [{ match: { path: '/a' } }, { name: 'route-0', match: { path: '/b' } }] })
    expect(linesOf(doc)).toEqual(['services.payments.routes[1].name: duplicate route name route-0 (also routes[0])'])
  })

  it('default is kept for the catch-all route', () => {
    expect(linesOf(payments({ routes: [{ name: 'default', match: { path: '/a' } }] }))).toEqual([
      'services.payments.routes[0].name: the name default is kept for the catch-all route: only a last route without match may take it',
    ])
  })

  it('a route after a route without match is refused: it could never be reached', () => {
    expect(linesOf(payments({ routes: [{ timeout: '1s' }, { match: { path: '/a' } }] }))).toEqual([
      'services.payments.routes[1]: never reached: routes[0] before it has no match, so it takes every call; move that one last',
    ])
  })

  it('a service name that is not a DNS name is refused', () => {
    expect(linesOf(withServices({ Payments_v2: {} }))).toEqual([
      'services.Payments_v2: invalid key: service name must be a lower-case DNS name: letters, digits and "-", dot-separated labels of at most 63 characters',
    ])
  })
})

describe('headers (BAD-INPUT.md: header injection)', () => {
  const headerRoute = (headers: Record<string, unknown>) => payments({ routes: [{ match: { headers } }] })

  it('CR/LF in a header value a route matches on is refused', () => {
    expect(linesOf(headerRoute({ 'x-a': 'v1\r\nx-admin: yes' }))).toEqual([
      'services.payments.routes[0].match.headers.x-a: invalid header value',
    ])
  })

  it('a control character in a header prefix is refused', () => {
    expect(linesOf(headerRoute({ 'x-a': { prefix: 'v\u0000' } }))).toEqual([
      'services.payments.routes[0].match.headers.x-a.prefix: invalid header value',
    ])
  })

  it('a header name that is not an HTTP token is refused', () => {
    expect(linesOf(headerRoute({ 'x a\r\n': 'v' }))).toEqual([
      'services.payments.routes[0].match.headers["x a\\r\\n"]: invalid key: invalid header name',
    ])
  })

  it('header names are lower-cased, and two spellings of one name are refused', () => {
    expect(linesOf(headerRoute({ 'X-Version': 'v2', 'x-version': 'v3' }))).toEqual([
      'services.payments.routes[0].match.headers.x-version: header x-version appears twice (header names ignore case; also X-Version)',
    ])
  })

  it('an authorization rule’s header values are checked too', () => {
    expect(linesOf(payments({ authorization: [{ when: { headers: { 'x-tenant': 'a\nb' } } }] }))).toEqual([
      'services.payments.authorization[0].when.headers.x-tenant: invalid header value',
    ])
  })
})

describe('prototype pollution', () => {
  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('__proto__, constructor and prototype are refused as keys anywhere in JSON text, maps included', () => {
    expect(linesOf(fixture('proto-pollution.json')).sort()).toEqual([
      '__proto__: "__proto__" is not allowed as a key (it could reach Object.prototype)',
      'services.payments.endpoints[0].labels.__proto__: "__proto__" is not allowed as a key (it could reach Object.prototype)',
      'services.payments.routes[0].match.headers.constructor: "constructor" is not allowed as a key (it could reach Object.prototype)',
      'services.payments.subsets.prototype: "prototype" is not allowed as a key (it could reach Object.prototype)',
    ])
  })

  it('the same keys are refused in YAML', () => {
    expect(
      issuesOf(fixture('proto-pollution.yaml'))
        .map((i) => i.path)
        .sort(),
    ).toEqual([
      '__proto__',
      'services.payments.endpoints[0].labels.__proto__',
      'services.payments.routes[0].match.headers.constructor',
      'services.payments.subsets.prototype',
    ])
  })

  it('an object built with an own __proto__ key (JSON.parse) is refused', () => {
    const doc = JSON.parse('{"apiVersion":"weft.dev/v1","services":{"payments":{"__proto__":{"polluted":1}}}}')
    expect(issuesOf(doc).map((i) => i.path)).toEqual(['services.payments.__proto__'])
  })

  it('a service named constructor is refused', () => {
    expect(issuesOf(withServices({ constructor: {} })).map((i) => i.path)).toEqual(['services.constructor'])
  })

  it('a resolved policy’s services map has no prototype and no __proto__ key', () => {
    const ok = JSON.parse('{"apiVersion":"weft.dev/v1","services":{"payments":{"endpoints":["127.0.0.1:1"]}}}')
    const policy = parsePolicy(ok)
    expect(Object.getPrototypeOf(policy.services)).toBeNull()
    expect(Object.hasOwn(policy.services, '__proto__')).toBe(false)
  })
})

describe('YAML hazards', () => {
  it('an alias bomb (billion laughs) is refused, naming the alias limit', () => {
    expect(linesOf(fixture('alias-bomb.yaml'))).toEqual([
      ': not accepted: Excessive alias count indicates a resource exhaustion attack (at most 100 alias expansions)',
    ])
  })

  it('a few aliases are fine', () => {
    const text = 'apiVersion: weft.dev/v1\nservices:\n  a: { retries: &r { attempts: 2 } }\n  b: { retries: *r }\n'
    expect(parsePolicy(text).services.b?.retries.attempts).toBe(2)
  })

  it('a merge key (<<) is refused', () => {
    expect(linesOf(fixture('merge-key.yaml'))).toEqual([
      'services.payments["<<"]: YAML merge keys (<<) are not allowed; write the fields out',
      'base: unknown key (not allowed here)',
    ])
  })

  it('a !!js/function tag is refused with its position', () => {
    expect(issuesOf(fixture('custom-tag.yaml'))).toEqual([
      { path: 'services.payments.identity', message: 'YAML tag !!js/function is not allowed', line: 4, column: 29 },
    ])
  })

  it('a local !tag is refused', () => {
    expect(issuesOf(fixture('local-tag.yaml'))).toEqual([
      { path: 'services.payments.timeout', message: 'YAML tag !duration is not allowed', line: 4, column: 24 },
    ])
  })

  it('YAML’s own tags (!!str) are fine', () => {
    expect(parsePolicy('apiVersion: !!str weft.dev/v1\nservices: {}\n').apiVersion).toBe('weft.dev/v1')
  })

  it('two documents in one file are refused', () => {
    expect(issuesOf(fixture('two-documents.yaml'))).toEqual([
      { path: '', message: 'holds 2 YAML documents; a policy is one document', line: expect.any(Number), column: expect.any(Number) },
    ])
  })

  it('a key given twice is refused', () => {
    expect(issuesOf('apiVersion: weft.dev/v1\nservices: {}\nservices: {}\n')[0]?.message).toContain('Map keys must be unique')
  })
})

/** YAML text of these lines, so a test reads the line and column it expects off the list. */
const yaml = (...lines: string[]) => `${lines.join('\n')}\n`

describe('positions in YAML text: the key for a problem with a key, the value for a problem with a value', () => {
  it("an unknown key's error points at the key, not its value", () => {
    const text = yaml('apiVersion: weft.dev/v1', 'services:', '  payments:', '    retires: 3')
    expect(issuesOf(text)).toEqual([
      { path: 'services.payments.retires', message: 'unknown key (did you mean retries?)', line: 4, column: 5 },
    ])
  })

  it('an unknown key holding a mapping points at its own line, not at the mapping below it', () => {
    const text = yaml('apiVersion: weft.dev/v1', 'services:', '  payments:', '    retires:', '      attempts: 3')
    expect(issuesOf(text)).toMatchObject([{ path: 'services.payments.retires', line: 4, column: 5 }])
  })

  it('__proto__ and constructor keys point at the key', () => {
    const text = yaml(
      'apiVersion: weft.dev/v1',
      'services:',
      '  payments:',
      '    subsets:',
      '      v1: { __proto__: { polluted: yes } }',
      '    routes:',
      '      - match: { headers: { constructor: x } }',
    )
    expect(issuesOf(text)).toMatchObject([
      { path: 'services.payments.subsets.v1.__proto__', line: 5, column: 13 },
      { path: 'services.payments.routes[0].match.headers.constructor', line: 7, column: 29 },
    ])
  })

  it('a refused service name points at the name', () => {
    const text = yaml('apiVersion: weft.dev/v1', 'services:', '  Payments_v2:', '    timeout: 1s')
    expect(issuesOf(text)).toMatchObject([{ path: 'services.Payments_v2', line: 3, column: 3 }])
  })

  it('a key given twice points at the second one', () => {
    const text = yaml('apiVersion: weft.dev/v1', 'services:', '  payments:', '    timeout: 1s', '    timeout: 2s')
    expect(issuesOf(text)).toMatchObject([{ message: expect.stringContaining('Map keys must be unique'), line: 5, column: 5 }])
  })

  it('a header matched twice in two spellings points at the second spelling', () => {
    const text = yaml(
      'apiVersion: weft.dev/v1',
      'services:',
      '  payments:',
      '    routes:',
      '      - match:',
      '          headers:',
      '            x-version: v2',
      '            X-Version: v3',
    )
    expect(issuesOf(text)).toMatchObject([{ path: 'services.payments.routes[0].match.headers.X-Version', line: 8, column: 13 }])
  })

  it('a value of the wrong type points at the value', () => {
    const text = yaml('apiVersion: weft.dev/v1', 'services:', '  payments:', '    retries:', '      attempts: three')
    expect(issuesOf(text)).toEqual([
      { path: 'services.payments.retries.attempts', message: 'expected a number, got string "three"', line: 5, column: 17 },
    ])
  })

  it('a bad duration points at the value', () => {
    const [issue] = issuesOf(yaml('apiVersion: weft.dev/v1', 'services:', '  payments:', '    timeout: -1s'))
    expect(issue).toMatchObject({ path: 'services.payments.timeout', line: 4, column: 14 })
  })

  it('a missing key points at the mapping that lacks it', () => {
    const text = yaml('apiVersion: weft.dev/v1', 'services:', '  payments:', '    discovery:', '      dns: { type: A, port: 53 }')
    expect(issuesOf(text)).toMatchObject([{ path: 'services.payments.discovery.dns.name', message: 'required', line: 5, column: 12 }])
  })
})

describe('limits', () => {
  it('a document over 1 MiB is refused before parsing, with the limit in the message', () => {
    const big = `apiVersion: weft.dev/v1\n# ${'x'.repeat(1_048_576)}\nservices: {}\n`
    expect(linesOf(big)).toEqual([`: document is ${big.length} bytes, over the limit of 1048576 bytes (1 MiB)`])
  })

  it('the size limit can be set per call', () => {
    expect(linesOf('apiVersion: weft.dev/v1\nservices: {}\n', { maxBytes: 16 })[0]).toContain('over the limit of 16 bytes')
  })

  it('an object over the size limit is refused too', () => {
    const labels = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 'v'.repeat(256)]))
    const services = { payments: { subsets: { big: labels } } }
    expect(linesOf(withServices(services))[0]).toContain('over the limit of 1048576 bytes')
  })

  it('nesting deeper than 64 is refused with the path, not a stack overflow', () => {
    const text = `{"apiVersion":"weft.dev/v1","services":{"payments":{"subsets":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}}}}`
    const [issue] = issuesOf(text)
    expect(issue?.message).toBe('nested deeper than the limit of 64 levels')
    expect(issue?.path).toMatch(/^services\.payments\.subsets\.a(\[0\]){60}$/)
  })

  it('YAML nesting is refused on the text, before the parser spends seconds on it', () => {
    // the yaml package takes about 13 s for this megabyte of brackets; the scan refuses it at the 65th
    expect(issuesOf(`apiVersion: weft.dev/v1\nservices: ${'['.repeat(1_000_000)}`)).toEqual([
      { path: '', message: 'nested deeper than the limit of 64 levels', line: 2, column: 74 },
    ])
  })

  it('YAML nesting through compact lists (- - - x) is refused the same way', () => {
    expect(issuesOf(`apiVersion: weft.dev/v1\nservices:\n  a:\n    subsets:\n      - ${'- '.repeat(100_000)}x\n`)[0]?.message).toBe(
      'nested deeper than the limit of 64 levels',
    )
  })

  it('brackets inside a plain YAML scalar do not count as nesting', () => {
    const text = `apiVersion: weft.dev/v1\nservices:\n  payments:\n    identity: spiffe://x/${'['.repeat(100)}\n`
    expect(parsePolicy(text).services.payments?.identity).toBe(`spiffe://x/${'['.repeat(100)}`)
  })

  it('brackets inside quoted strings and comments do not count as nesting', () => {
    const text = `apiVersion: weft.dev/v1 # ${'['.repeat(100)}\nservices:\n  payments:\n    identity: "spiffe://x/${'['.repeat(100)}"\n`
    expect(parsePolicy(text).services.payments?.identity).toBe(`spiffe://x/${'['.repeat(100)}`)
  })

  it('the depth limit can be set per call', () => {
    expect(linesOf(payments({ retries: { backoff: { base: 1 } } }), { maxDepth: 3 })).toEqual([
      'services.payments.retries: nested deeper than the limit of 3 levels',
    ])
  })

  it('an object that contains itself is refused by the depth limit', () => {
    const doc: Record<string, unknown> = { apiVersion: 'weft.dev/v1', services: {} }
    ;(doc.services as Record<string, unknown>).loop = doc
    expect(issuesOf(doc).some((i) => i.message === 'nested deeper than the limit of 64 levels')).toBe(true)
  })

  it('a 1 MB service name is refused by the string length limit', () => {
    const name = 'a'.repeat(1_000_000)
    expect(issuesOf(withServices({ [name]: {} }))[0]?.message).toBe('key of 1000000 characters is longer than the limit of 4096')
  })

  it('a 1 MB string value is refused by the string length limit', () => {
    expect(linesOf(payments({ identity: `spiffe://x/${'a'.repeat(1_000_000)}` }))).toEqual([
      'services.payments.identity: string of 1000011 characters is longer than the limit of 4096',
    ])
  })

  it('data that is not JSON (a function, a Date, a class instance) is refused', () => {
    const doc = payments({ identity: () => 'spiffe://x', timeout: new Date(), retries: new Map() })
    expect(linesOf(doc).sort()).toEqual([
      'services.payments.identity: expected JSON data, got function',
      'services.payments.retries: expected JSON data, got Map object',
      'services.payments.timeout: expected JSON data, got Date object',
    ])
  })

  it('a getter that throws is an issue, not a crash', () => {
    const service = Object.defineProperty({}, 'timeout', {
      enumerable: true,
      get() {
        throw new Error('boom')
      },
    })
    expect(linesOf(payments(service))[0]).toContain('services.payments.timeout: could not be read')
  })

  it('Infinity (YAML .inf) is refused where a number is expected', () => {
    expect(linesOf('apiVersion: weft.dev/v1\nservices:\n  payments:\n    concurrency: { maxInFlight: .inf }\n')).toEqual([
      'services.payments.concurrency.maxInFlight: expected a finite number, got Infinity',
    ])
  })
})
