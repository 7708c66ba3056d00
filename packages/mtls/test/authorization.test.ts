import type { Call, Handler, Reply } from '@weft/core'
import { isWeftError, type WeftError } from '@weft/core'
import { describe, expect, it } from 'vitest'
import { type AuthorizationDecision, type AuthorizationRule, authorization, normalizePath } from '../src/index.js'
import { id } from './helpers.js'

const OK: Reply = { status: 200, headers: {}, body: undefined }
const app: Handler = async () => OK

function inbound(path: string, options: { method?: string; peer?: string; headers?: Record<string, string> } = {}): Call {
  return {
    direction: 'inbound',
    service: 'payments',
    method: options.method ?? 'GET',
    path,
    authority: 'payments',
    headers: options.headers ?? {},
    body: null,
    replayable: true,
    signal: undefined,
    deadline: undefined,
    attempt: 1,
    route: undefined,
    subset: undefined,
    endpoint: undefined,
    tried: [],
    trace: undefined,
    peer: options.peer === undefined ? undefined : { identity: options.peer },
    startedAt: 0,
  }
}

/** Runs one call through the rules: 200, or the WeftError that denied it. */
async function decide(
  rules: AuthorizationRule[],
  call: Call,
  onDecision?: (d: AuthorizationDecision) => void,
): Promise<number | WeftError> {
  const handler = authorization(rules, { onDecision: onDecision ?? (() => {}) })(app)
  try {
    return (await handler(call)).status
  } catch (err) {
    if (isWeftError(err)) return err
    throw err
  }
}

const checkout = id('checkout')
const batch = id('batch', 'jobs')

describe('authorization, in Istio’s order', () => {
  it('with no rules, allows everyone, identified or not', async () => {
    expect(await decide([], inbound('/charge'))).toBe(200)
    expect(await decide([], inbound('/charge', { peer: checkout }))).toBe(200)
  })

  it('an ALLOW rule lets its principal in and denies everyone else', async () => {
    const rules: AuthorizationRule[] = [{ from: [checkout], to: { paths: ['/charge'], methods: ['POST'] } }]
    expect(await decide(rules, inbound('/charge', { method: 'POST', peer: checkout }))).toBe(200)

    const denied = await decide(rules, inbound('/charge', { method: 'POST', peer: batch }))
    expect(denied).toMatchObject({ code: 'WEFT_UNAUTHORIZED', status: 403 })
    expect((denied as WeftError).message).toBe(`${batch} may not POST /charge on payments: no ALLOW rule matched`)
    expect(await decide(rules, inbound('/charge', { method: 'GET', peer: checkout }))).toMatchObject({ code: 'WEFT_UNAUTHORIZED' })
    expect(await decide(rules, inbound('/refund', { method: 'POST', peer: checkout }))).toMatchObject({ code: 'WEFT_UNAUTHORIZED' })
  })

  it('a DENY rule refuses its match and names itself', async () => {
    const rules: AuthorizationRule[] = [{ action: 'DENY', from: ['*/ns/jobs/*'], to: { paths: ['/admin/*'] } }]
    const denied = (await decide(rules, inbound('/admin/users', { peer: batch }))) as WeftError
    expect(denied.code).toBe('WEFT_UNAUTHORIZED')
    expect(denied.message).toBe(
      `${batch} may not GET /admin/users on payments: denied by authorization[0] (DENY from */ns/jobs/* to /admin/*)`,
    )
    expect(denied.details).toMatchObject({ rule: 0, principal: batch, service: 'payments' })
    // only DENY rules: everything else is allowed
    expect(await decide(rules, inbound('/admin/users', { peer: checkout }))).toBe(200)
    expect(await decide(rules, inbound('/charge', { peer: batch }))).toBe(200)
  })

  it('DENY wins over an ALLOW that also matches, whatever the order of the list', async () => {
    const rules: AuthorizationRule[] = [
      { action: 'ALLOW', from: ['spiffe://weft.local/*'] },
      { action: 'DENY', from: [batch], to: { methods: ['DELETE'] } },
    ]
    expect(await decide(rules, inbound('/orders/1', { method: 'DELETE', peer: checkout }))).toBe(200)
    const denied = (await decide(rules, inbound('/orders/1', { method: 'DELETE', peer: batch }))) as WeftError
    expect(denied.details.rule).toBe(1)
  })

  it('AUDIT rules log and count their matches but never deny', async () => {
    const decisions: AuthorizationDecision[] = []
    const rules: AuthorizationRule[] = [{ action: 'AUDIT', to: { paths: ['/charge'] } }]
    expect(await decide(rules, inbound('/charge', { peer: batch }), (d) => decisions.push(d))).toBe(200)
    expect(await decide(rules, inbound('/charge'), (d) => decisions.push(d))).toBe(200)
    expect(await decide(rules, inbound('/other'), (d) => decisions.push(d))).toBe(200)
    expect(decisions.map((d) => [d.outcome, d.principal, d.reason])).toEqual([
      ['audit', batch, 'matched authorization[0] (AUDIT to /charge)'],
      ['audit', undefined, 'matched authorization[0] (AUDIT to /charge)'],
    ])
  })

  it('dry-run reports what would be denied and lets it through', async () => {
    const decisions: AuthorizationDecision[] = []
    const handler = authorization([{ from: [checkout] }], { dryRun: true, onDecision: (d) => decisions.push(d) })(app)
    expect((await handler(inbound('/charge', { peer: batch }))).status).toBe(200)
    expect(decisions.map((d) => [d.outcome, d.reason])).toEqual([['would-deny', 'no ALLOW rule matched']])
  })

  it('a caller without a verified identity matches no principal, not even *', async () => {
    const rules: AuthorizationRule[] = [{ from: ['*'] }]
    expect(await decide(rules, inbound('/charge', { peer: checkout }))).toBe(200)
    const denied = (await decide(rules, inbound('/charge'))) as WeftError
    expect(denied.message).toMatch(/^a caller without a verified identity may not GET \/charge/)
  })

  it('ignores identity-looking headers: identity comes only from the TLS socket', async () => {
    const rules: AuthorizationRule[] = [{ from: [checkout] }]
    const spoofed = inbound('/charge', { headers: { 'x-forwarded-client-cert': `URI=${checkout}`, 'x-weft-peer-identity': checkout } })
    expect(await decide(rules, spoofed)).toMatchObject({ code: 'WEFT_UNAUTHORIZED' })
  })
})

describe('what a rule matches', () => {
  it.each([
    ['exact principal', { from: [checkout] }, checkout, true],
    ['prefix principal', { from: ['spiffe://weft.local/ns/default/*'] }, checkout, true],
    ['suffix principal', { from: ['*/sa/checkout'] }, checkout, true],
    ['suffix principal, other service', { from: ['*/sa/checkout'] }, batch, false],
    ['namespace', { namespaces: ['jobs'] }, batch, true],
    ['namespace, other', { namespaces: ['jobs'] }, checkout, false],
    ['namespace pattern', { namespaces: ['job*'] }, batch, true],
  ] as const)('%s', async (_name, rule, peer, allowed) => {
    const result = await decide([rule as AuthorizationRule], inbound('/x', { peer }))
    expect(result === 200).toBe(allowed)
  })

  it.each([
    ['/charge', '/charge', true],
    ['/charge', '/charge/', false],
    ['/charge', '/charge?amount=5', true],
    ['/api/*', '/api/v1/orders', true],
    ['/api/*', '/apix', false],
    ['*.json', '/data/report.json', true],
    ['/orders/{*}/items', '/orders/42/items', true],
    ['/orders/{*}/items', '/orders/42/43/items', false],
    ['/static/{**}', '/static/css/site.css', true],
    ['/static/{**}', '/other/static/x', false],
  ])('path %s on %s: %s', async (pattern, path, allowed) => {
    const result = await decide([{ to: { paths: [pattern] } }], inbound(path))
    expect(result === 200).toBe(allowed)
  })

  it.each([
    '/./admin',
    '//admin',
    '/public/../admin',
    '/%61dmin',
    '/admin?x=1',
    '/admin#frag',
    '/Admin/../admin',
    'http://payments/admin',
    'HTTPS://payments:8443/admin?x=1',
    'admin',
  ])('a DENY on /admin also catches %s', async (path) => {
    expect(await decide([{ action: 'DENY', to: { paths: ['/admin'] } }], inbound(path))).toMatchObject({ code: 'WEFT_UNAUTHORIZED' })
  })

  it.each(['/ADMIN', '/Admin', '/admin/', '/ADMIN/', '/public/../ADMIN/'])(
    'a DENY on /admin also catches %s, which Express routes to /admin (case-insensitive, non-strict)',
    async (path) => {
      expect(await decide([{ action: 'DENY', to: { paths: ['/admin'] } }], inbound(path))).toMatchObject({ code: 'WEFT_UNAUTHORIZED' })
    },
  )

  it('a DENY on a prefix or a template ignores case too', async () => {
    expect(await decide([{ action: 'DENY', to: { paths: ['/admin/*'] } }], inbound('/ADMIN/users'))).toMatchObject({
      code: 'WEFT_UNAUTHORIZED',
    })
    expect(await decide([{ action: 'DENY', to: { paths: ['/orders/{*}/refund'] } }], inbound('/Orders/42/REFUND/'))).toMatchObject({
      code: 'WEFT_UNAUTHORIZED',
    })
  })

  it('a DENY on GET also refuses HEAD, which Express and Fastify answer with the GET handler; an ALLOW on GET does not let HEAD in', async () => {
    const deny: AuthorizationRule[] = [{ action: 'DENY', to: { methods: ['GET'], paths: ['/admin'] } }]
    const allow: AuthorizationRule[] = [{ to: { methods: ['GET'] } }]
    expect(await decide(deny, inbound('/admin', { method: 'HEAD' }))).toMatchObject({ code: 'WEFT_UNAUTHORIZED' })
    expect(await decide(deny, inbound('/admin', { method: 'POST' }))).toBe(200)
    expect(await decide(allow, inbound('/admin', { method: 'HEAD' }))).toMatchObject({ code: 'WEFT_UNAUTHORIZED' })
  })

  it('an ALLOW on /admin lets in /admin only: /ADMIN and /admin/ find no ALLOW rule', async () => {
    const rules: AuthorizationRule[] = [{ to: { paths: ['/admin'] } }]
    expect(await decide(rules, inbound('/admin'))).toBe(200)
    expect(await decide(rules, inbound('/ADMIN'))).toMatchObject({ code: 'WEFT_UNAUTHORIZED' })
    expect(await decide(rules, inbound('/admin/'))).toMatchObject({ code: 'WEFT_UNAUTHORIZED' })
  })

  it('an AUDIT on /admin reports /ADMIN/ as well', async () => {
    const seen: AuthorizationDecision[] = []
    expect(await decide([{ action: 'AUDIT', to: { paths: ['/admin'] } }], inbound('/ADMIN/'), (d) => seen.push(d))).toBe(200)
    expect(seen.map((d) => d.outcome)).toEqual(['audit'])
  })

  it('encodes a stray %, so that no decoded character completes a new escape on a second pass', () => {
    expect(normalizePath('/%%32%65')).toBe('/%252e')
    expect(normalizePath(normalizePath('/%%32%65'))).toBe('/%252e')
    expect(normalizePath('/v1%%61d')).toBe('/v1%25ad')
  })

  it('normalizes without allocating when there is nothing to do', () => {
    const path = '/orders/42/items'
    expect(normalizePath(path)).toBe(path)
    expect(normalizePath('/a/%2F/b')).toBe('/a/%2F/b')
  })

  it('matches headers by exact, prefix, regex (whole value) and presence', async () => {
    const rule = (headers: AuthorizationRule['when']): AuthorizationRule[] => [{ when: headers }]
    expect(await decide(rule({ headers: { 'x-tenant': 'acme' } }), inbound('/', { headers: { 'x-tenant': 'acme' } }))).toBe(200)
    expect(await decide(rule({ headers: { 'x-tenant': { prefix: 'ac' } } }), inbound('/', { headers: { 'x-tenant': 'acme' } }))).toBe(200)
    expect(await decide(rule({ headers: { 'x-tenant': { regex: 'a.m' } } }), inbound('/', { headers: { 'x-tenant': 'acme' } }))).not.toBe(
      200,
    )
    expect(await decide(rule({ headers: { 'x-tenant': { regex: 'a.me' } } }), inbound('/', { headers: { 'x-tenant': 'acme' } }))).toBe(200)
    expect(await decide(rule({ headers: { 'x-debug': { present: false } } }), inbound('/', { headers: { 'x-debug': '1' } }))).not.toBe(200)
  })

  it('rejects a bad path template when the rules are built, naming the rule', () => {
    expect(() => authorization([{}, { to: { paths: ['/a/{**}/b'] } }])).toThrow(
      /authorization\[1\]: path template \/a\/\{\*\*\}\/b: \{\*\*\} must be the last segment/,
    )
  })
})
