import { readFileSync } from 'node:fs'
import { testCall } from '@weft/core/testing'
import { parsePolicy, type ServicePolicy } from '@weft/policy'
import { describe, expect, it } from 'vitest'
import { importMeshConfig, route } from '../src/index.js'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

describe('weft import', () => {
  it('the Istio VirtualService + DestinationRule routes as Istio would: header v2 → v2, else 90/10', async () => {
    const result = importMeshConfig([fixture('istio-virtualservice.yaml'), fixture('istio-destinationrule.yaml')])
    const policy = parsePolicy(result.yaml)
    const service = policy.services['my-api'] as ServicePolicy

    const seen: (string | undefined)[] = []
    const handler = route({ service })(async (call) => {
      seen.push(call.subset)
      return { status: 200, headers: {}, body: undefined }
    })
    for (let i = 0; i < 50; i++) await handler(testCall({ service: 'my-api', headers: { 'x-version': 'v2' } }))
    expect(seen.every((s) => s === 'v2')).toBe(true)

    seen.length = 0
    for (let i = 0; i < 5000; i++) await handler(testCall({ service: 'my-api' }))
    const v2 = seen.filter((s) => s === 'v2').length / seen.length
    expect(v2).toBeGreaterThan(0.08)
    expect(v2).toBeLessThan(0.12)
    expect(service.subsets).toEqual({ v1: { version: 'v1' }, v2: { version: 'v2' } })
    expect(service.outlierDetection).toMatchObject({ consecutive5xx: 5, interval: 30_000, baseEjectionTime: 60_000 })
    expect(service.concurrency).toMatchObject({ maxInFlight: 100, maxPending: 50 })
  })

  it('reports what it could not translate, with the path, instead of dropping it', () => {
    const result = importMeshConfig([fixture('istio-destinationrule.yaml'), fixture('istio-extras.yaml')])

    const paths = result.untranslated.map((n) => `${n.source} ${n.path}`)
    expect(paths).toContain('DestinationRule/my-api spec.trafficPolicy.connectionPool.http.h2UpgradePolicy')
    expect(paths).toContain('VirtualService/reviews spec.http[0].rewrite')
    expect(paths).toContain('VirtualService/reviews spec.http[0].corsPolicy')
    expect(result.untranslated.find((n) => n.path === 'spec.http[0].retries.retryOn')?.reason).toMatch(/cancelled/)
  })

  it('carries faults, retries (Istio counts retries, weft tries), mirroring, hashing and authorization over', () => {
    const policy = parsePolicy(importMeshConfig(fixture('istio-extras.yaml')).yaml)
    const reviews = policy.services.reviews as ServicePolicy
    const r = reviews.routes[0]

    expect(r?.name).toBe('ratings-faults')
    expect(r?.fault).toMatchObject({ delay: { fixed: 100, percent: 5 }, abort: { status: 503, percent: 1 } })
    expect(r?.retries).toMatchObject({ attempts: 3, perTryTimeout: 500, on: ['5xx', 'connect-failure'] })
    expect(r?.timeout).toBe(3000)
    expect(r?.mirror).toEqual({ subset: 'v2', percent: 10 })
    expect(reviews.loadBalancer).toMatchObject({ type: 'ring-hash', hashOn: { header: 'x-user' } })
    expect(reviews.authorization[0]).toMatchObject({
      action: 'ALLOW',
      from: ['spiffe://cluster.local/ns/default/sa/productpage'],
      to: { methods: ['GET'], paths: ['/ratings*'] },
    })
  })

  it('a namespace-wide PeerAuthentication STRICT gives mtls: STRICT', () => {
    const policy = parsePolicy(importMeshConfig([fixture('istio-peerauthentication.yaml'), fixture('istio-destinationrule.yaml')]).yaml)
    expect(policy.services['my-api']?.mtls).toBe('STRICT')
  })

  it('an SMI TrafficSplit becomes a weighted split over backend subsets, with a warning to label the endpoints', () => {
    const result = importMeshConfig(fixture('smi-trafficsplit.yaml'))
    const service = parsePolicy(result.yaml).services['e8-render-svc'] as ServicePolicy

    expect(service.routes[0]?.split).toEqual([
      { subset: 'e8-render-svc-baseline', weight: 50 },
      { subset: 'e8-render-svc-feature1', weight: 25 },
      { subset: 'e8-render-svc-feature2', weight: 25 },
    ])
    expect(result.warnings.some((w) => /label its endpoints backend: e8-render-svc-feature1/.test(w.reason))).toBe(true)
  })

  it('a GAMMA HTTPRoute becomes ordered routes: header v2, then 90/10 with a 2 s timeout', () => {
    const service = parsePolicy(importMeshConfig(fixture('gateway-api-httproute.yaml')).yaml).services['my-api'] as ServicePolicy

    expect(service.routes[0]?.match[0]?.headers['x-version']).toEqual({ exact: 'v2' })
    expect(service.routes[0]?.split).toEqual([{ subset: 'my-api-v2', weight: 1 }])
    expect(service.routes[1]?.split).toEqual([
      { subset: 'my-api-v1', weight: 90 },
      { subset: 'my-api-v2', weight: 10 },
    ])
    expect(service.routes[1]?.timeout).toBe(2000)
  })

  it('SMI TrafficTarget + HTTPRouteGroup become an ALLOW rule for the source service account', () => {
    const service = parsePolicy(importMeshConfig(fixture('smi-access.yaml')).yaml).services['service-a'] as ServicePolicy
    expect(service.authorization[0]).toMatchObject({
      action: 'ALLOW',
      from: ['spiffe://cluster.local/ns/default/sa/prometheus'],
      to: { paths: ['/metrics'], methods: ['GET'] },
    })
  })

  it('an unknown kind is reported, and text that is not YAML is a clear error, never a crash', () => {
    expect(importMeshConfig('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n').untranslated[0]).toMatchObject({
      source: 'ConfigMap/x',
      path: 'kind',
    })
    expect(() => importMeshConfig('kind: [unclosed')).toThrow(/not YAML/)
  })

  it('text that is not YAML is refused in one line naming the file, line and column, with no code frame', () => {
    const read = () => importMeshConfig(['kind: VirtualService\nspec: [\n'], { names: ['vs.yaml'] })

    expect(read).toThrow(/^weft import: vs\.yaml: not YAML weft can read: .+ \(line \d+, column \d+\)$/)
  })
})

describe('weft import, one file at a time', () => {
  it('a VirtualService alone still gives a valid policy: its subsets are assumed version-labelled, with a warning', () => {
    const result = importMeshConfig(fixture('istio-virtualservice.yaml'))
    const service = parsePolicy(result.yaml).services['my-api'] as ServicePolicy

    expect(service.subsets).toEqual({ v1: { version: 'v1' }, v2: { version: 'v2' } })
    expect(result.warnings.some((w) => w.path === 'services.my-api.subsets.v2')).toBe(true)
  })
})

describe('weft import of Istio authorization never widens access', () => {
  const result = importMeshConfig(fixture('istio-authorization.yaml'))
  const policy = parsePolicy(result.yaml)
  const httpbin = policy.services.httpbin as ServicePolicy
  const notes = (name: string) => result.untranslated.filter((n) => n.source === `AuthorizationPolicy/${name}`)

  it('sources of one rule are OR in Istio, so each becomes its own weft rule (a weft rule ANDs its fields)', () => {
    const allows = httpbin.authorization.filter((r) => r.action === 'ALLOW')
    expect(allows).toHaveLength(2)
    expect(allows[0]).toMatchObject({ from: ['spiffe://cluster.local/ns/default/sa/sleep'], to: { methods: ['GET'], paths: ['/info*'] } })
    expect(allows[0]?.namespaces).toBeUndefined()
    expect(allows[1]).toMatchObject({ namespaces: ['dev'], to: { methods: ['GET'] } })
    expect(allows[1]?.from).toBeUndefined()
    expect(allows[1]?.when?.headers['x-tenant']).toEqual({ exact: 'acme' })
  })

  it('an ALLOW rule with a condition weft lacks is left out (allows less), and reported with its path', () => {
    expect(httpbin.authorization.some((r) => r.to?.methods?.includes('POST'))).toBe(false)
    expect(notes('httpbin-readers')).toEqual([
      expect.objectContaining({ path: 'spec.rules[1].from[0].source.requestPrincipals', reason: expect.stringMatching(/allows less/) }),
    ])
  })

  it('a DENY rule with a condition weft lacks is kept without it (denies more), and reported', () => {
    expect(httpbin.authorization.find((r) => r.action === 'DENY')).toMatchObject({ to: { methods: ['DELETE'] } })
    expect(notes('httpbin-no-delete')[0]).toMatchObject({
      path: 'spec.rules[0].to[0].operation.notPaths',
      reason: expect.stringMatching(/denies more/),
    })
  })

  it('an ALLOW policy without rules denies everything, as in Istio (weft allows a service without rules)', () => {
    expect(policy.services.vault?.authorization).toEqual([expect.objectContaining({ action: 'DENY' })])
    expect(result.warnings.some((w) => w.path === 'services.vault.authorization')).toBe(true)
  })

  it('a selector on more labels than app is reported, not widened to the whole service or namespace', () => {
    expect(httpbin.mtls).not.toBe('DISABLE')
    expect(policy.defaults?.mtls).not.toBe('DISABLE')
    expect(result.untranslated).toContainEqual(
      expect.objectContaining({ source: 'PeerAuthentication/httpbin-v1-only', path: 'spec.selector' }),
    )
  })
})

describe('weft import of the less common shapes', () => {
  it('a GAMMA HTTPRoute: a mirror filter, retries (+1: Gateway API counts retries), exact path, method and query', () => {
    const result = importMeshConfig(fixture('gateway-api-extras.yaml'))
    const reviews = parsePolicy(result.yaml).services.reviews as ServicePolicy

    expect(reviews.routes[0]?.match[0]).toMatchObject({
      path: { exact: '/reviews/health' },
      methods: ['GET'],
      query: { debug: { exact: '1' } },
    })
    expect(reviews.routes[0]?.mirror).toEqual({ subset: 'reviews-v3', percent: 25 })
    expect(reviews.routes[0]?.retries).toMatchObject({ attempts: 3, on: [503] })
    expect(reviews.routes[0]?.timeout).toBe(5000)
    expect(reviews.routes[1]?.split).toEqual([
      { subset: 'reviews-v1', weight: 3 },
      { subset: 'reviews-v2', weight: 1 },
    ])
    expect(result.untranslated.map((n) => `${n.source} ${n.path}`).sort()).toEqual([
      'HTTPRoute/reviews-mesh spec.hostnames',
      'HTTPRoute/reviews-mesh spec.parentRefs[1]',
      'HTTPRoute/reviews-mesh spec.rules[0].filters[1]',
      'HTTPRoute/reviews-mesh spec.rules[0].retry.backoff',
      'HTTPRoute/reviews-mesh spec.rules[0].timeouts.backendRequest',
      'HTTPRoute/storefront spec.parentRefs[0]',
    ])
    expect(parsePolicy(result.yaml).services.storefront).toBeUndefined()
  })

  it('SMI v1alpha1 quantity weights (500m : "1" : 1) keep their ratio, inside a kubectl List', () => {
    const website = parsePolicy(importMeshConfig(fixture('smi-v1alpha1.yaml')).yaml).services.website as ServicePolicy
    expect(website.routes[0]?.split).toEqual([
      { subset: 'website-v1', weight: 500 },
      { subset: 'website-v2', weight: 1000 },
      { subset: 'website-v3', weight: 1000 },
    ])
  })

  it('each HTTPRouteGroup match is its own ALLOW rule; a path regex weft cannot express is left out and reported', () => {
    const result = importMeshConfig(fixture('smi-v1alpha1.yaml'))
    const website = parsePolicy(result.yaml).services.website as ServicePolicy
    const from = ['spiffe://cluster.local/ns/shop/sa/frontend']

    expect(website.authorization).toEqual([
      expect.objectContaining({ action: 'ALLOW', from, to: { paths: ['/api/*'], methods: ['GET'] } }),
      expect.objectContaining({ action: 'ALLOW', from, to: { paths: ['/api/orders'], methods: ['POST'] } }),
    ])
    expect(result.untranslated).toEqual([
      expect.objectContaining({ source: 'TrafficTarget/api-access', path: 'HTTPRouteGroup/api-routes matches.odd.pathRegex' }),
    ])
    const other = importMeshConfig(fixture('smi-v1alpha1.yaml'), { trustDomain: 'prod.example' })
    expect(parsePolicy(other.yaml).services.website?.authorization[0]?.from).toEqual(['spiffe://prod.example/ns/shop/sa/frontend'])
  })

  it('Istio fields weft lacks are each reported; header presence and absence carry over', () => {
    const result = importMeshConfig(fixture('istio-unsupported.yaml'))
    const ratings = parsePolicy(result.yaml).services.ratings as ServicePolicy

    expect(ratings.routes[0]?.match[0]?.headers).toEqual({ 'x-canary': { present: true }, 'x-legacy': { present: false } })
    expect(ratings.loadBalancer).toMatchObject({ type: 'ring-hash', hashOn: { cookie: 'user' } })
    expect(result.untranslated.map((n) => `${n.source} ${n.path}`).sort()).toEqual([
      'DestinationRule/ratings spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl',
      'DestinationRule/ratings spec.trafficPolicy.loadBalancer.warmupDurationSecs',
      'VirtualService/ratings spec.http[0].match[0].method',
      'VirtualService/ratings spec.http[0].mirror',
      'VirtualService/ratings spec.http[0].route[0].destination.port',
      'VirtualService/ratings spec.http[1].route[1].destination.subset',
    ])
  })
})

describe('weft import of hostile input: a clear error or a reported field, never a crash', () => {
  const vs = (extra: string) =>
    `kind: VirtualService\nmetadata: { name: x }\nspec:\n  hosts: [ x ]\n  http:\n    - route: [ { destination: { host: x, subset: v1 } } ]\n${extra}`

  it('an alias bomb, a custom tag, a document over 1 MiB and nesting past 64 levels are refused with WEFT_INVALID_ARGUMENT', () => {
    const bomb = [
      'a: &a [1,1,1,1,1,1,1,1,1,1]',
      ...'bcdefg'.split('').map((k, i) => `${k}: &${k} [${`*${'abcdefg'[i]},`.repeat(10)}]`),
    ].join('\n')
    const cases: [string, RegExp][] = [
      [bomb, /alias/i],
      ['kind: !!js/function "function () {}"', /tag/i],
      [`# ${'x'.repeat(1_048_577)}`, /over the limit of 1048576/],
      [`kind: VirtualService\nspec: ${'['.repeat(70)}${']'.repeat(70)}`, /deeper than the limit of 64/],
    ]
    for (const [text, message] of cases) {
      const err = (() => {
        try {
          importMeshConfig(text)
        } catch (e) {
          return e as { code?: string; message: string }
        }
      })()
      expect(err?.code).toBe('WEFT_INVALID_ARGUMENT')
      expect(err?.message).toMatch(message)
    }
  })

  it('__proto__ keys and YAML merge keys are reported with their path and never reach the output or Object.prototype', () => {
    const result = importMeshConfig(
      'kind: DestinationRule\nmetadata: { name: x }\nspec:\n  host: x\n  subsets:\n    - { name: v1, labels: { version: v1, __proto__: { polluted: yes } } }\n    - { name: v2, labels: { <<: { version: v2 } } }\n',
    )
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(result.untranslated.map((n) => n.path)).toEqual(['spec.subsets[0].labels.__proto__', 'spec.subsets[1].labels.<<'])
    expect(parsePolicy(result.yaml).services.x?.subsets.v1).toEqual({ version: 'v1' })
  })

  it('a catastrophic regex is refused by the policy it would go into, naming the field', () => {
    expect(() => importMeshConfig(vs('      match: [ { uri: { regex: "(a+)+$" } } ]\n'))).toThrow(
      /not valid: services\.x\.routes\[0\]\.match\[0\]\.path/,
    )
  })

  it('scalars, lists, resources without a kind and fields of the wrong type are reported, not crashed on', () => {
    const result = importMeshConfig(['just a string', '- a\n- list', 'metadata: { name: nokind }', vs('      timeout: 5\n'), ''])
    expect(result.untranslated.map((n) => `${n.source} ${n.path}`)).toEqual([
      '(file 1, document 1) (whole document)',
      '(file 2, document 1) (whole document)',
      '(file 3, document 1) (whole document)',
      'VirtualService/x spec.http[0].timeout',
    ])
  })
})

describe('weft import names services after Kubernetes hosts only', () => {
  const vs = (name: string, hosts: string) =>
    `kind: VirtualService\nmetadata: { name: ${name} }\nspec:\n  hosts: ${hosts}\n  http:\n    - route: [ { destination: { host: payments, subset: v1 } } ]\n`

  it('name, name.namespace and name.namespace.svc.cluster.local are services; wildcards, external hosts and the second host are reported', () => {
    const result = importMeshConfig([
      vs('a', '[ payments.prod.svc.cluster.local, payments-admin ]'),
      vs('b', '[ "*.example.com" ]'),
      vs('c', '[ api.example.com ]'),
    ])
    expect(Object.keys(parsePolicy(result.yaml).services)).toEqual(['payments'])
    expect(result.untranslated.map((n) => `${n.source} ${n.path}`)).toEqual([
      'VirtualService/a spec.hosts[1]',
      'VirtualService/b spec.hosts[0]',
      'VirtualService/c spec.hosts[0]',
    ])
  })

  it('one name from two namespaces is merged with a warning, and two namespace-wide mTLS modes are a conflict reported', () => {
    const pa = (ns: string, mode: string) =>
      `kind: PeerAuthentication\nmetadata: { name: default, namespace: ${ns} }\nspec: { mtls: { mode: ${mode} } }\n`
    const result = importMeshConfig([
      vs('a', '[ payments.prod ]'),
      vs('b', '[ payments.staging ]'),
      pa('prod', 'STRICT'),
      pa('staging', 'PERMISSIVE'),
    ])

    expect(result.warnings).toContainEqual(
      expect.objectContaining({ path: 'services.payments', reason: expect.stringMatching(/prod, staging/) }),
    )
    expect(result.document.defaults).toEqual({ mtls: 'STRICT' })
    expect(result.untranslated).toEqual([
      // weft keeps the routes in one list, and the first VirtualService's catch-all takes every call
      expect.objectContaining({ source: 'VirtualService/b', path: 'spec.http[0]', reason: expect.stringMatching(/never reached/) }),
      expect.objectContaining({ source: 'PeerAuthentication/default', path: 'spec.mtls.mode' }),
    ])
  })
})

describe('weft import of a Linkerd ServiceProfile', () => {
  const result = importMeshConfig(fixture('linkerd-serviceprofile.yaml'))
  const books = parsePolicy(result.yaml).services.books as ServicePolicy

  it('routes keep their conditions (any → match blocks), timeouts and retryability; the budget goes to the service', () => {
    expect(books.routes[0]).toMatchObject({
      name: 'GET-books-id-.json',
      match: [{ methods: ['GET'], path: { regex: '/books/[^/]*\\.json' } }],
      timeout: 300,
      retries: { attempts: 3, unsafe: true },
    })
    expect(books.routes[1]?.match.map((m) => m.methods)).toEqual([['PUT'], ['DELETE']])
    expect(books.routes[1]?.retries.attempts).toBe(1)
    expect(books.retries.budget).toMatchObject({ ratio: 0.2, minPerSecond: 10, window: 10_000 })
  })

  it('a negated condition leaves its route out; response classes are reported', () => {
    expect(books.routes.some((r) => r.name === 'not-HEAD')).toBe(false)
    expect(result.untranslated.map((n) => n.path)).toEqual(['spec.routes[2].condition.not', 'spec.routes[3].responseClasses'])
  })
})
