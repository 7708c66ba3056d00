/**
 * `weft import`: Istio, Gateway API (GAMMA) and SMI resources translated into one weft policy
 * document. Every field it cannot carry over is reported with its path; nothing is dropped silently.
 */
import { isWeftError, WeftError } from '@weft/core'
import { loadYaml, POLICY_DEFAULTS, parsePolicy } from '@weft/policy'

/** A field of the input that did not make it into the policy, or a translation the user should check. */
export interface ImportNote {
  /** `Kind/name` of the resource. */
  readonly source: string
  /** Field path inside the resource, e.g. `spec.http[0].rewrite`. */
  readonly path: string
  readonly reason: string
}

export interface ImportResult {
  /** The weft policy document (`apiVersion: weft.dev/v1`). */
  readonly document: Record<string, unknown>
  /** The same document as YAML. */
  readonly yaml: string
  /** Fields that could not be translated. */
  readonly untranslated: ImportNote[]
  /** Translations that hold only under an assumption (endpoints to add, labels to set). */
  readonly warnings: ImportNote[]
}

type Obj = Record<string, unknown>
type Service = {
  endpoints?: unknown[]
  subsets?: Obj
  routes?: Obj[]
  mtls?: string
  loadBalancer?: unknown
  outlierDetection?: Obj
  concurrency?: Obj
  authorization?: Obj[]
  retries?: Obj
}

export interface ImportOptions {
  /** Trust domain of the SPIFFE IDs made from SMI service accounts. Default `'cluster.local'` (Istio's and Kubernetes' default). */
  trustDomain?: string
  /** Names of the texts (file paths), used in error messages. Default: `file 1`, `file 2`, … */
  names?: readonly string[]
}

export const IMPORT_DEFAULTS = { trustDomain: 'cluster.local' } as const satisfies ImportOptions

/**
 * Translates YAML text (one or many files, each possibly multi-document) into a weft policy that
 * `parsePolicy` accepts. Throws `WEFT_INVALID_ARGUMENT` for input that is not YAML, too large, too
 * deep, an alias bomb or custom-tagged, and for a translation the policy refuses (a catastrophic
 * regex, say), naming the field.
 */
export function importMeshConfig(texts: string | readonly string[], options: ImportOptions = {}): ImportResult {
  const t = new Translation(options.trustDomain ?? IMPORT_DEFAULTS.trustDomain)
  const { maxBytes, maxAliasCount } = POLICY_DEFAULTS.limits
  ;(typeof texts === 'string' ? [texts] : texts).forEach((text, file) => {
    const where = `weft import: ${options.names?.[file] ?? (typeof texts === 'string' ? 'the text' : `file ${file + 1}`)}`
    const bytes = Buffer.byteLength(text, 'utf8')
    if (bytes > maxBytes) throw invalid(`${where}: ${bytes} bytes, over the limit of ${maxBytes}`)
    let index = 0
    const { LineCounter, parseAllDocuments } = loadYaml()
    // not the yaml package's pretty errors: they add a code frame, and the command prints one line
    const lines = new LineCounter()
    for (const doc of parseAllDocuments(text, { merge: false, prettyErrors: false, lineCounter: lines })) {
      index++
      const problem = doc.errors[0] ?? doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED')
      if (problem !== undefined) {
        const { line, col } = lines.linePos(problem.pos[0])
        throw invalid(`${where}: not YAML weft can read: ${problem.message} (line ${line}, column ${col})`)
      }
      let value: unknown
      try {
        value = doc.toJS({ maxAliasCount })
      } catch (cause) {
        // the yaml package's answer to an alias bomb
        throw invalid(`${where}: ${(cause as Error).message}`, cause)
      }
      if (value === null || value === undefined) continue
      t.document = `${where.slice('weft import: '.length)}, document ${index}`
      t.resource(t.plain(value, resourceName(value), '', 0))
    }
  })
  const result = t.result()
  try {
    parsePolicy(result.yaml)
  } catch (cause) {
    const issues = isWeftError(cause) ? (cause.details as { issues?: { path: string; message: string }[] } | undefined)?.issues : undefined
    const detail = issues?.map((i) => `${i.path}: ${i.message}`).join('; ') ?? (cause as Error).message
    throw invalid(`weft import: the translated policy is not valid: ${detail}`, cause)
  }
  return result
}

function invalid(message: string, cause?: unknown): WeftError {
  return new WeftError('WEFT_INVALID_ARGUMENT', message, cause === undefined ? undefined : { cause })
}

function resourceName(v: unknown): string {
  return isObj(v) && typeof v.kind === 'string' ? `${v.kind}/${str(get(v, 'metadata', 'name')) ?? '?'}` : '(document)'
}

class Translation {
  constructor(readonly trustDomain: string) {}

  /**
   * A copy of a parsed resource made of plain data only, at most 64 levels deep; keys that could
   * reach a prototype (`__proto__`, `constructor`, `prototype`) and YAML merge keys (`<<`) are left
   * out and reported.
   */
  plain(v: unknown, source: string, path: string, depth: number): unknown {
    if (typeof v !== 'object' || v === null) return v
    if (depth >= POLICY_DEFAULTS.limits.maxDepth)
      throw invalid(`weft import: ${source} ${path}: nested deeper than the limit of ${POLICY_DEFAULTS.limits.maxDepth} levels`)
    if (Array.isArray(v)) return v.map((x, i) => this.plain(x, source, `${path}[${i}]`, depth + 1))
    const out: Obj = {}
    for (const [k, x] of Object.entries(v)) {
      const p = path ? `${path}.${k}` : k
      if (k === '__proto__' || k === 'constructor' || k === 'prototype' || k === '<<') {
        this.untranslated.push({ source, path: p, reason: k === '<<' ? 'YAML merge keys are not read' : 'a key weft refuses everywhere' })
        continue
      }
      out[k] = this.plain(x, source, p, depth + 1)
    }
    return out
  }

  readonly services = new Map<string, Service>()
  readonly defaults: Obj = {}
  readonly untranslated: ImportNote[] = []
  readonly warnings: ImportNote[] = []
  readonly routeGroups = new Map<string, Obj>()
  readonly targets: { r: Obj; source: string }[] = []
  /** Where the resource being read is, for notes on what is not a resource: `file 2, document 1`. */
  document = ''
  /** `metadata.namespace` of the resource being read. */
  namespace: string | undefined
  /** Namespaces each service name was seen in: weft names services without one. */
  readonly namespaces = new Map<string, Set<string>>()
  /** Services an Istio ALLOW policy without rules closes. */
  readonly allowNothing = new Set<string>()

  resource(r: unknown) {
    if (!isObj(r) || typeof r.kind !== 'string') {
      this.untranslated.push({ source: `(${this.document})`, path: '(whole document)', reason: 'not a Kubernetes resource (no kind)' })
      return
    }
    if (r.kind === 'List') {
      // what `kubectl get -o yaml` prints for several resources
      for (const item of arr(r.items)) this.resource(item)
      return
    }
    const source = `${r.kind}/${str(get(r, 'metadata', 'name')) ?? '?'}`
    this.namespace = str(get(r, 'metadata', 'namespace'))
    const spec = isObj(r.spec) ? r.spec : {}
    switch (r.kind) {
      case 'VirtualService':
        return this.virtualService(spec, source)
      case 'DestinationRule':
        return this.destinationRule(spec, source)
      case 'PeerAuthentication':
        return this.peerAuthentication(spec, source)
      case 'AuthorizationPolicy':
        return this.authorizationPolicy(spec, source)
      case 'HTTPRoute':
        return this.httpRoute(spec, source)
      case 'TrafficSplit':
        return this.trafficSplit(spec, source)
      case 'HTTPRouteGroup':
        this.routeGroups.set(str(get(r, 'metadata', 'name')) ?? '', spec)
        return
      case 'TrafficTarget':
        this.targets.push({ r: spec, source })
        return
      case 'ServiceProfile':
        return this.serviceProfile(spec, source, str(get(r, 'metadata', 'name')))
      default:
        this.untranslated.push({ source, path: 'kind', reason: `kind ${r.kind} is not one weft import knows` })
    }
  }

  result(): ImportResult {
    for (const { r, source } of this.targets) this.trafficTarget(r, source)
    for (const [name, seen] of this.namespaces)
      if (seen.size > 1)
        this.warnings.push({
          source: `service ${name}`,
          path: `services.${name}`,
          reason: `merged from namespaces ${[...seen].join(', ')}: weft names a service without its namespace; import one namespace at a time`,
        })
    for (const name of this.allowNothing) {
      const s = this.services.get(name) as Service
      if ((s.authorization ?? []).some((r) => r.action === 'ALLOW')) continue
      // weft denies by default only once a service has ALLOW rules; with none, deny everything outright
      ;(s.authorization ??= []).push({ action: 'DENY' })
      this.warnings.push({
        source: `service ${name}`,
        path: `services.${name}.authorization`,
        reason: 'an Istio ALLOW policy without rules denies every call: became a DENY rule matching everything',
      })
    }
    const services: Obj = {}
    for (const [name, s] of [...this.services].sort(([a], [b]) => a.localeCompare(b))) {
      this.assumeSubsets(name, s)
      if (s.endpoints === undefined) {
        this.warnings.push({
          source: `service ${name}`,
          path: `services.${name}.endpoints`,
          reason: 'mesh configs carry no endpoints: add endpoints or discovery',
        })
      }
      const out: Obj = { ...s }
      delete out.endpoints
      services[name] = out
    }
    const document: Obj = { apiVersion: 'weft.dev/v1' }
    if (Object.keys(this.defaults).length > 0) document.defaults = this.defaults
    document.services = services
    return { document, yaml: loadYaml().stringify(document), untranslated: this.untranslated, warnings: this.warnings }
  }

  /** Subsets a route names but no imported DestinationRule defines: assumed `version: <name>`, as Istio setups usually label them. */
  assumeSubsets(name: string, s: Service) {
    const named = new Set<string>()
    for (const r of s.routes ?? []) {
      for (const t of (r.split as Obj[] | undefined) ?? []) named.add(String(t.subset))
      if (isObj(r.mirror)) named.add(String(r.mirror.subset))
    }
    for (const subset of named) {
      if (s.subsets?.[subset] !== undefined) continue
      ;(s.subsets ??= {})[subset] = { version: subset }
      this.warnings.push({
        source: `service ${name}`,
        path: `services.${name}.subsets.${subset}`,
        reason: `subset ${subset} is defined by no imported DestinationRule: assumed labels { version: ${subset} }`,
      })
    }
  }

  /** A Kubernetes service host: `name`, `name.namespace`, `name.namespace.svc[.<cluster domain>]`; anything else is reported. */
  isServiceHost(host: string, source: string, path: string): boolean {
    const labels = host.split('.')
    if (labels.length <= 2 || labels[2] === 'svc') {
      if (!host.includes('*')) return true
    }
    this.untranslated.push({
      source,
      path,
      reason: `${host} is not a Kubernetes service (a wildcard or an external host): weft routes the services of its policy`,
    })
    return false
  }

  /** Appends a route unless an earlier one already takes every call (the policy refuses a route never reached). */
  addRoute(s: Service, route: Obj, source: string, path: string) {
    const last = s.routes?.[s.routes.length - 1]
    if (last !== undefined && last.match === undefined) {
      this.untranslated.push({
        source,
        path,
        reason: `never reached: an earlier route${typeof last.name === 'string' ? ` (${last.name})` : ''} takes every call`,
      })
      return
    }
    if (typeof route.name === 'string') {
      // weft route names are identifiers, unique in a service; a ServiceProfile's are free text ("GET /books/{id}")
      const base =
        route.name
          .replace(/[^A-Za-z0-9._-]+/g, '-')
          .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
          .slice(0, 60) || 'route'
      let name = base
      for (let n = 2; s.routes?.some((r) => r.name === name); n++) name = `${base}-${n}`
      if (name !== route.name)
        this.warnings.push({ source, path: `${path}.name`, reason: `route name ${JSON.stringify(route.name)} became ${name}` })
      route.name = name
    }
    ;(s.routes ??= []).push(route)
  }

  service(host: string): { name: string; s: Service } {
    const name = serviceName(host)
    const ns = host.split('.')[1] ?? this.namespace
    if (ns !== undefined) {
      const seen = this.namespaces.get(name) ?? new Set<string>()
      this.namespaces.set(name, seen.add(ns))
    }
    let s = this.services.get(name)
    if (s === undefined) this.services.set(name, (s = {}))
    return { name, s }
  }

  unknown(r: Obj, known: readonly string[], source: string, path: string) {
    for (const key of Object.keys(r))
      if (!known.includes(key)) this.untranslated.push({ source, path: path ? `${path}.${key}` : key, reason: 'no weft equivalent' })
  }

  // --- Istio -------------------------------------------------------------------------------

  virtualService(spec: Obj, source: string) {
    this.unknown(spec, ['hosts', 'http', 'gateways'], source, 'spec')
    const hosts = arr(spec.hosts).map(String)
    const gateways = arr(spec.gateways)
      .map(String)
      .filter((g) => g !== 'mesh')
    if (gateways.length > 0)
      this.untranslated.push({ source, path: 'spec.gateways', reason: `ingress gateways (${gateways.join(', ')}) are not mesh routing` })
    if (hosts.length === 0) {
      this.untranslated.push({ source, path: 'spec.hosts', reason: 'no host' })
      return
    }
    for (let i = 1; i < hosts.length; i++)
      this.untranslated.push({ source, path: `spec.hosts[${i}]`, reason: `routes translated for ${hosts[0]} only, not for ${hosts[i]}` })
    if (!this.isServiceHost(hosts[0] as string, source, 'spec.hosts[0]')) return
    const { name, s } = this.service(hosts[0] as string)
    arr(spec.http).forEach((h, i) => {
      if (!isObj(h)) return
      const path = `spec.http[${i}]`
      this.unknown(
        h,
        ['name', 'match', 'route', 'timeout', 'retries', 'fault', 'mirror', 'mirrorPercentage', 'mirror_percent'],
        source,
        path,
      )
      const route: Obj = {}
      if (typeof h.name === 'string') route.name = h.name
      const match = arr(h.match)
        .map((m, j) => this.istioMatch(m, source, `${path}.match[${j}]`))
        .filter((m) => m !== undefined)
      if (match.length > 0) route.match = match
      const dests = arr(h.route).filter(isObj)
      const split: Obj[] = []
      dests.forEach((d, j) => {
        const dest = isObj(d.destination) ? d.destination : {}
        if (typeof dest.host === 'string' && serviceName(dest.host) !== name) {
          this.untranslated.push({
            source,
            path: `${path}.route[${j}].destination.host`,
            reason: `routes to another service (${dest.host}); weft splits within one service`,
          })
          return
        }
        this.unknown(d, ['destination', 'weight'], source, `${path}.route[${j}]`)
        this.unknown(dest, ['host', 'subset'], source, `${path}.route[${j}].destination`)
        const weight = typeof d.weight === 'number' ? d.weight : dests.length === 1 ? 100 : 0
        if (typeof dest.subset === 'string') split.push({ subset: dest.subset, weight })
        else if (dests.length > 1 && weight > 0)
          this.untranslated.push({
            source,
            path: `${path}.route[${j}].destination.subset`,
            reason: `a ${weight} share to the service as a whole: a weft split is across subsets`,
          })
      })
      if (split.length > 0) route.split = split.filter((x) => (x.weight as number) > 0)
      if (typeof h.timeout === 'string') route.timeout = h.timeout
      else if (h.timeout !== undefined) this.untranslated.push({ source, path: `${path}.timeout`, reason: 'not a duration string' })
      if (isObj(h.retries)) route.retries = this.istioRetries(h.retries, source, `${path}.retries`)
      if (isObj(h.fault)) route.fault = this.istioFault(h.fault, source, `${path}.fault`)
      if (isObj(h.mirror)) {
        const pct = num(get(h, 'mirrorPercentage', 'value')) ?? num(h.mirror_percent) ?? 100
        this.unknown(h.mirror, ['host', 'subset'], source, `${path}.mirror`)
        const other = typeof h.mirror.host === 'string' && serviceName(h.mirror.host) !== name
        if (typeof h.mirror.subset === 'string' && !other) route.mirror = { subset: h.mirror.subset, percent: pct }
        else this.untranslated.push({ source, path: `${path}.mirror`, reason: 'weft mirrors to a subset of the same service only' })
      }
      this.addRoute(s, route, source, path)
    })
  }

  istioMatch(m: unknown, source: string, path: string): Obj | undefined {
    if (!isObj(m)) return undefined
    this.unknown(m, ['uri', 'headers', 'queryParams', 'method', 'name', 'withoutHeaders'], source, path)
    const out: Obj = {}
    if (isObj(m.uri)) out.path = this.stringMatch(m.uri, source, `${path}.uri`)
    if (isObj(m.method)) {
      if (typeof m.method.exact === 'string' && Object.keys(m.method).length === 1) out.methods = [m.method.exact.toUpperCase()]
      else this.untranslated.push({ source, path: `${path}.method`, reason: 'only an exact method translates' })
    }
    if (isObj(m.withoutHeaders)) {
      const map = (out.headers ??= {}) as Obj
      for (const [k, v] of Object.entries(m.withoutHeaders)) {
        if (isObj(v) && Object.keys(v).length === 0) map[k.toLowerCase()] = { present: false }
        else this.untranslated.push({ source, path: `${path}.withoutHeaders.${k}`, reason: 'only the absence of a header translates' })
      }
    }
    for (const [key, field] of [
      ['headers', 'headers'],
      ['queryParams', 'query'],
    ] as const) {
      if (!isObj(m[key])) continue
      const map = (out[field] ?? {}) as Obj
      for (const [k, v] of Object.entries(m[key] as Obj))
        if (isObj(v)) map[k.toLowerCase()] = this.stringMatch(v, source, `${path}.${key}.${k}`)
      out[field] = map
    }
    return out
  }

  stringMatch(m: Obj, source: string, path: string): unknown {
    // Istio: an empty matcher on a header or query parameter means "present"
    if (Object.keys(m).length === 0 && !path.endsWith('.uri')) return { present: true }
    if (typeof m.exact === 'string') return m.exact
    if (typeof m.prefix === 'string') return { prefix: m.prefix }
    if (typeof m.regex === 'string') return { regex: m.regex }
    this.untranslated.push({ source, path, reason: 'only exact, prefix and regex matches translate' })
    return undefined
  }

  istioRetries(r: Obj, source: string, path: string): Obj {
    this.unknown(r, ['attempts', 'perTryTimeout', 'retryOn'], source, path)
    const out: Obj = {}
    // Istio counts retries; weft counts every try, the first included
    if (typeof r.attempts === 'number') out.attempts = r.attempts + 1
    if (typeof r.perTryTimeout === 'string') out.perTryTimeout = r.perTryTimeout
    else if (r.perTryTimeout !== undefined)
      this.untranslated.push({ source, path: `${path}.perTryTimeout`, reason: 'not a duration string' })
    if (typeof r.retryOn === 'string') {
      const on: unknown[] = []
      for (const cond of r.retryOn.split(',').map((x) => x.trim())) {
        if (['5xx', 'gateway-error', 'connect-failure', 'reset', 'refused-stream', 'retriable-4xx'].includes(cond)) on.push(cond)
        else if (/^[1-5][0-9][0-9]$/.test(cond)) on.push(Number(cond))
        else this.untranslated.push({ source, path: `${path}.retryOn`, reason: `retry condition ${cond} has no weft equivalent` })
      }
      if (on.length > 0) out.on = on
    }
    return out
  }

  istioFault(f: Obj, source: string, path: string): Obj {
    this.unknown(f, ['delay', 'abort'], source, path)
    const out: Obj = {}
    if (isObj(f.delay)) {
      const fixed = f.delay.fixedDelay
      if (typeof fixed === 'string') out.delay = { fixed, percent: num(get(f.delay, 'percentage', 'value')) ?? num(f.delay.percent) ?? 100 }
      else this.untranslated.push({ source, path: `${path}.delay`, reason: 'only fixedDelay translates' })
    }
    if (isObj(f.abort)) {
      const status = num(f.abort.httpStatus)
      if (status !== undefined) out.abort = { status, percent: num(get(f.abort, 'percentage', 'value')) ?? num(f.abort.percent) ?? 100 }
      else this.untranslated.push({ source, path: `${path}.abort`, reason: 'only httpStatus aborts translate' })
    }
    return out
  }

  destinationRule(spec: Obj, source: string) {
    this.unknown(spec, ['host', 'subsets', 'trafficPolicy'], source, 'spec')
    if (typeof spec.host !== 'string' || !this.isServiceHost(spec.host, source, 'spec.host')) return
    const { s } = this.service(spec.host)
    arr(spec.subsets).forEach((sub, i) => {
      if (!isObj(sub) || typeof sub.name !== 'string') return
      this.unknown(sub, ['name', 'labels'], source, `spec.subsets[${i}]`)
      ;(s.subsets ??= {})[sub.name] = isObj(sub.labels) ? sub.labels : {}
    })
    const tp = isObj(spec.trafficPolicy) ? spec.trafficPolicy : undefined
    if (tp === undefined) return
    this.unknown(tp, ['loadBalancer', 'outlierDetection', 'connectionPool'], source, 'spec.trafficPolicy')
    if (isObj(tp.loadBalancer)) {
      const simple = tp.loadBalancer.simple
      const hash = tp.loadBalancer.consistentHash
      this.unknown(tp.loadBalancer, ['simple', 'consistentHash'], source, 'spec.trafficPolicy.loadBalancer')
      if (isObj(hash)) {
        this.unknown(hash, ['httpHeaderName', 'httpCookie'], source, 'spec.trafficPolicy.loadBalancer.consistentHash')
        // a cookie with a ttl is one Envoy sets when missing; weft only hashes a cookie the caller sends
        if (isObj(hash.httpCookie))
          this.unknown(hash.httpCookie, ['name'], source, 'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie')
      }
      if (simple === 'ROUND_ROBIN') s.loadBalancer = 'round-robin'
      else if (simple === 'LEAST_REQUEST' || simple === 'LEAST_CONN') s.loadBalancer = 'least-request'
      else if (isObj(hash) && typeof hash.httpHeaderName === 'string')
        s.loadBalancer = { type: 'ring-hash', hashOn: { header: hash.httpHeaderName.toLowerCase() } }
      else if (isObj(hash) && isObj(hash.httpCookie) && typeof hash.httpCookie.name === 'string')
        s.loadBalancer = { type: 'ring-hash', hashOn: { cookie: hash.httpCookie.name } }
      else
        this.untranslated.push({
          source,
          path: 'spec.trafficPolicy.loadBalancer',
          reason: `load balancer ${JSON.stringify(tp.loadBalancer)} has no weft equivalent (weft's default is EWMA)`,
        })
    }
    if (isObj(tp.outlierDetection)) {
      const o = tp.outlierDetection
      this.unknown(
        o,
        ['consecutive5xxErrors', 'consecutiveGatewayErrors', 'interval', 'baseEjectionTime', 'maxEjectionPercent'],
        source,
        'spec.trafficPolicy.outlierDetection',
      )
      const out: Obj = {}
      if (typeof o.consecutive5xxErrors === 'number') out.consecutive5xx = o.consecutive5xxErrors
      if (typeof o.consecutiveGatewayErrors === 'number') out.consecutiveGatewayErrors = o.consecutiveGatewayErrors
      if (typeof o.interval === 'string') out.interval = o.interval
      if (typeof o.baseEjectionTime === 'string') out.baseEjectionTime = o.baseEjectionTime
      if (typeof o.maxEjectionPercent === 'number') out.maxEjectionPercent = o.maxEjectionPercent
      s.outlierDetection = out
    }
    if (isObj(tp.connectionPool)) {
      const http = isObj(tp.connectionPool.http) ? tp.connectionPool.http : {}
      const tcp = isObj(tp.connectionPool.tcp) ? tp.connectionPool.tcp : {}
      const out: Obj = {}
      if (typeof tcp.maxConnections === 'number') {
        out.maxInFlight = tcp.maxConnections
        this.warnings.push({
          source,
          path: 'spec.trafficPolicy.connectionPool.tcp.maxConnections',
          reason: 'became concurrency.maxInFlight (calls in flight, not connections)',
        })
      }
      if (typeof http.http1MaxPendingRequests === 'number') out.maxPending = http.http1MaxPendingRequests
      for (const key of Object.keys(http))
        if (key !== 'http1MaxPendingRequests')
          this.untranslated.push({ source, path: `spec.trafficPolicy.connectionPool.http.${key}`, reason: 'no weft equivalent' })
      for (const key of Object.keys(tcp))
        if (key !== 'maxConnections')
          this.untranslated.push({ source, path: `spec.trafficPolicy.connectionPool.tcp.${key}`, reason: 'no weft equivalent' })
      if (Object.keys(out).length > 0) s.concurrency = out
    }
  }

  peerAuthentication(spec: Obj, source: string) {
    this.unknown(spec, ['mtls', 'selector', 'portLevelMtls'], source, 'spec')
    if (spec.portLevelMtls !== undefined)
      this.untranslated.push({ source, path: 'spec.portLevelMtls', reason: 'set the port mode with mesh.createServer(listener, { mode })' })
    const mode = str(get(spec, 'mtls', 'mode'))
    if (mode === undefined || mode === 'UNSET') return
    if (!['STRICT', 'PERMISSIVE', 'DISABLE'].includes(mode)) {
      this.untranslated.push({ source, path: 'spec.mtls.mode', reason: `mode ${mode} is not STRICT, PERMISSIVE or DISABLE` })
      return
    }
    if (spec.selector === undefined) {
      if (this.defaults.mtls !== undefined && this.defaults.mtls !== mode)
        this.untranslated.push({
          source,
          path: 'spec.mtls.mode',
          reason: `weft has one default mode and another namespace-wide PeerAuthentication set ${String(this.defaults.mtls)}: set mtls per service`,
        })
      else this.defaults.mtls = mode
      return
    }
    const app = this.selectedApp(spec, source)
    if (app !== undefined) this.service(app).s.mtls = mode
  }

  /**
   * Istio ORs the sources of a rule and ORs its operations, and ANDs the fields inside one source or
   * operation; a weft rule ANDs everything, so each (source, operation) pair becomes one weft rule.
   * A condition that does not translate never widens access: an ALLOW rule holding one is left out
   * (narrower than Istio), a DENY rule keeps the rest (broader than Istio); both are reported.
   */
  authorizationPolicy(spec: Obj, source: string) {
    this.unknown(spec, ['selector', 'action', 'rules'], source, 'spec')
    const app = this.selectedApp(spec, source)
    if (app === undefined) {
      if (spec.selector === undefined)
        this.untranslated.push({
          source,
          path: 'spec.selector',
          reason: 'namespace-wide authorization: weft authorizes per service; repeat it under each service',
        })
      return
    }
    const action = str(spec.action) ?? 'ALLOW'
    if (!['ALLOW', 'DENY', 'AUDIT'].includes(action)) {
      this.untranslated.push({ source, path: 'spec.action', reason: `action ${action} has no weft equivalent` })
      return
    }
    const { s, name } = this.service(app)
    const rules = arr(spec.rules)
    if (action === 'ALLOW' && rules.length === 0) {
      // Istio: an ALLOW policy without rules matches nothing, so the workload denies every call
      this.allowNothing.add(name)
      return
    }
    rules.forEach((rule, i) => {
      if (!isObj(rule)) return
      const path = `spec.rules[${i}]`
      const lost: ImportNote[] = []
      const note = (p: string, reason: string) => lost.push({ source, path: p, reason })
      for (const key of Object.keys(rule)) if (!['from', 'to', 'when'].includes(key)) note(`${path}.${key}`, 'no weft equivalent')
      const froms: Obj[] = []
      arr(rule.from).forEach((f, j) => {
        if (!isObj(f)) return
        for (const key of Object.keys(f)) if (key !== 'source') note(`${path}.from[${j}].${key}`, 'no weft equivalent')
        const src = isObj(f.source) ? f.source : {}
        for (const key of Object.keys(src))
          if (!['principals', 'namespaces'].includes(key)) note(`${path}.from[${j}].source.${key}`, 'no weft equivalent')
        const out: Obj = {}
        const principals = arr(src.principals).map((p) => spiffePattern(String(p)))
        const namespaces = arr(src.namespaces).map(String)
        if (principals.length > 0) out.from = principals
        if (namespaces.length > 0) out.namespaces = namespaces
        froms.push(out)
      })
      const tos: Obj[] = []
      arr(rule.to).forEach((t, j) => {
        if (!isObj(t)) return
        for (const key of Object.keys(t)) if (key !== 'operation') note(`${path}.to[${j}].${key}`, 'no weft equivalent')
        const op = isObj(t.operation) ? t.operation : {}
        for (const key of Object.keys(op))
          if (!['paths', 'methods'].includes(key)) note(`${path}.to[${j}].operation.${key}`, 'no weft equivalent')
        const paths = arr(op.paths).map(String)
        const methods = arr(op.methods).map((m) => String(m).toUpperCase())
        tos.push(
          paths.length > 0 || methods.length > 0
            ? { to: { ...(paths.length > 0 ? { paths } : {}), ...(methods.length > 0 ? { methods } : {}) } }
            : {},
        )
      })
      let when: Obj | undefined
      arr(rule.when).forEach((w, j) => {
        const key = isObj(w) ? str(w.key) : undefined
        const header = key?.match(/^request\.headers\[(.+)\]$/)?.[1]
        const values = isObj(w) ? arr(w.values).map(String) : []
        const other = isObj(w) ? Object.keys(w).filter((k) => k !== 'key' && k !== 'values') : []
        if (header !== undefined && values.length === 1 && other.length === 0) {
          when ??= { headers: {} }
          ;(when.headers as Obj)[header.toLowerCase()] = values[0]
        } else note(`${path}.when[${j}]`, 'only a request header with one value translates')
      })
      if (lost.length > 0) {
        const effect =
          action === 'DENY'
            ? 'the DENY rule is kept without it, so it denies more than Istio would'
            : `the ${action} rule is left out, so it ${action === 'ALLOW' ? 'allows less' : 'audits less'} than Istio would`
        for (const n of lost) this.untranslated.push({ ...n, reason: `${n.reason}; ${effect}` })
        if (action !== 'DENY') return
      }
      for (const f of froms.length > 0 ? froms : [{}])
        for (const t of tos.length > 0 ? tos : [{}]) {
          const out: Obj = { action, ...f, ...t }
          if (when !== undefined) out.when = when
          ;(s.authorization ??= []).push(out)
        }
    })
  }

  /** The `app` label a selector names; a selector on other labels is reported and yields nothing. */
  selectedApp(spec: Obj, source: string): string | undefined {
    if (spec.selector === undefined) return undefined
    const labels = get(spec, 'selector', 'matchLabels')
    const app = str(get(labels, 'app'))
    const others = isObj(labels) ? Object.keys(labels).filter((k) => k !== 'app') : []
    if (app === undefined || others.length > 0 || (isObj(spec.selector) && Object.keys(spec.selector).some((k) => k !== 'matchLabels'))) {
      this.untranslated.push({
        source,
        path: 'spec.selector',
        reason: 'weft applies this per service: only a selector on the app label alone translates (app → service)',
      })
      return undefined
    }
    return app
  }

  // --- Linkerd ----------------------------------------------------------------------------

  /** A Linkerd ServiceProfile: its routes (first match wins, as in Linkerd) with their timeouts and retries, and the retry budget. */
  serviceProfile(spec: Obj, source: string, host: string | undefined) {
    this.unknown(spec, ['routes', 'retryBudget'], source, 'spec')
    if (host === undefined || !this.isServiceHost(host, source, 'metadata.name')) return
    const { s } = this.service(host)
    if (isObj(spec.retryBudget)) {
      const b = spec.retryBudget
      this.unknown(b, ['retryRatio', 'minRetriesPerSecond', 'ttl'], source, 'spec.retryBudget')
      const budget: Obj = {}
      if (typeof b.retryRatio === 'number') budget.ratio = b.retryRatio
      if (typeof b.minRetriesPerSecond === 'number') budget.minPerSecond = b.minRetriesPerSecond
      if (typeof b.ttl === 'string') budget.window = b.ttl
      s.retries = { budget }
    }
    arr(spec.routes).forEach((r, i) => {
      if (!isObj(r)) return
      const path = `spec.routes[${i}]`
      this.unknown(r, ['name', 'condition', 'timeout', 'isRetryable', 'responseClasses'], source, path)
      if (r.responseClasses !== undefined)
        this.untranslated.push({
          source,
          path: `${path}.responseClasses`,
          reason: 'weft classifies 5xx and connection errors as failures; it has no per-route classes',
        })
      const match = isObj(r.condition) ? this.linkerdCondition(r.condition, source, `${path}.condition`) : undefined
      if (match === undefined) return
      const route: Obj = { match }
      if (typeof r.name === 'string') route.name = r.name
      if (typeof r.timeout === 'string') route.timeout = r.timeout
      if (r.isRetryable === true) {
        route.retries = { attempts: 3, unsafe: true }
        this.warnings.push({
          source,
          path: `${path}.isRetryable`,
          reason:
            'Linkerd bounds retries by the budget alone; weft also caps the tries per call: attempts 3, unsafe (the route was declared retryable)',
        })
      } else route.retries = { attempts: 1 }
      this.addRoute(s, route, source, path)
    })
  }

  /** A Linkerd request condition as weft match blocks (OR); undefined when part of it does not translate. */
  linkerdCondition(c: Obj, source: string, path: string): Obj[] | undefined {
    const fail = (p: string, reason: string) => {
      this.untranslated.push({ source, path: p, reason: `${reason}; the route is left out` })
      return undefined
    }
    for (const key of Object.keys(c))
      if (!['method', 'pathRegex', 'all', 'any'].includes(key)) return fail(`${path}.${key}`, 'no weft equivalent')
    let blocks: Obj[] = [{}]
    if (typeof c.method === 'string') blocks = [{ methods: [c.method.toUpperCase()] }]
    if (typeof c.pathRegex === 'string') blocks = blocks.map((b) => ({ ...b, path: { regex: c.pathRegex } }))
    if (Array.isArray(c.all))
      for (const [j, sub] of c.all.entries()) {
        const inner = isObj(sub) ? this.linkerdCondition(sub, source, `${path}.all[${j}]`) : undefined
        if (inner === undefined) return undefined
        const next: Obj[] = []
        for (const a of blocks)
          for (const b of inner) {
            if (Object.keys(b).some((k) => k in a)) return fail(`${path}.all[${j}]`, 'two conditions on one field')
            next.push({ ...a, ...b })
          }
        blocks = next
      }
    if (Array.isArray(c.any)) {
      const alternatives: Obj[] = []
      for (const [j, sub] of c.any.entries()) {
        const inner = isObj(sub) ? this.linkerdCondition(sub, source, `${path}.any[${j}]`) : undefined
        if (inner === undefined) return undefined
        alternatives.push(...inner)
      }
      const next: Obj[] = []
      for (const a of blocks)
        for (const b of alternatives) {
          if (Object.keys(b).some((k) => k in a)) return fail(`${path}.any`, 'two conditions on one field')
          next.push({ ...a, ...b })
        }
      blocks = next
    }
    return blocks
  }

  // --- Gateway API (GAMMA) and SMI ---------------------------------------------------------

  /** A weft subset standing for another Kubernetes Service (a backend), selected by a `backend` label. */
  backendSubset(s: Service, backend: string, source: string, path: string): string {
    ;(s.subsets ??= {})[backend] = { backend }
    this.warnings.push({ source, path, reason: `backend ${backend} became subset ${backend}: label its endpoints backend: ${backend}` })
    return backend
  }

  httpRoute(spec: Obj, source: string) {
    this.unknown(spec, ['parentRefs', 'rules', 'hostnames'], source, 'spec')
    const parents: string[] = []
    arr(spec.parentRefs).forEach((p, i) => {
      if (!isObj(p)) return
      if ((p.kind === 'Service' || (p.kind === undefined && p.group === '')) && typeof p.name === 'string') {
        this.unknown(p, ['group', 'kind', 'name', 'namespace', 'port'], source, `spec.parentRefs[${i}]`)
        if (p.port !== undefined)
          this.warnings.push({ source, path: `spec.parentRefs[${i}].port`, reason: `the routes apply to every port of ${p.name}` })
        parents.push(p.name)
      } else
        this.untranslated.push({
          source,
          path: `spec.parentRefs[${i}]`,
          reason: `not mesh routing: the parent is a ${String(p.kind ?? 'Gateway')}, not a Service`,
        })
    })
    if (parents.length === 0) return
    if (Array.isArray(spec.hostnames) && spec.hostnames.length > 0)
      this.untranslated.push({ source, path: 'spec.hostnames', reason: 'weft routes within a service and matches no host name' })
    for (const parent of parents) this.httpRouteRules(spec, source, parent, parent === parents[0])
  }

  /** The rules of an HTTPRoute as routes of one parent Service; notes are written for the first parent only. */
  httpRouteRules(spec: Obj, source: string, parent: string, report: boolean) {
    const { s } = this.service(parent)
    const t = report ? this : { untranslated: [] as ImportNote[], warnings: [] as ImportNote[], unknown: () => {} }
    const subsetOf = (name: string, path: string) => {
      ;(s.subsets ??= {})[name] = { backend: name }
      t.warnings.push({ source, path, reason: `backend ${name} became subset ${name}: label its endpoints backend: ${name}` })
      return name
    }
    const backendRef = (b: Obj, path: string): string | undefined => {
      t.unknown(b, ['group', 'kind', 'name', 'namespace', 'port', 'weight', 'filters'], source, path)
      if ((b.kind !== undefined && b.kind !== 'Service') || typeof b.name !== 'string') {
        t.untranslated.push({ source, path, reason: 'only a Service backend translates' })
        return undefined
      }
      if (b.namespace !== undefined)
        t.warnings.push({ source, path: `${path}.namespace`, reason: `backend ${b.name} taken from the route's namespace` })
      return subsetOf(b.name, path)
    }
    arr(spec.rules).forEach((rule, i) => {
      if (!isObj(rule)) return
      const path = `spec.rules[${i}]`
      t.unknown(rule, ['matches', 'backendRefs', 'timeouts', 'name', 'filters', 'retry'], source, path)
      const route: Obj = {}
      if (typeof rule.name === 'string') route.name = rule.name
      const match = arr(rule.matches)
        .filter(isObj)
        .map((m, j) => {
          const out: Obj = {}
          if (isObj(m.path) && typeof m.path.value === 'string') {
            if (m.path.type === 'Exact') out.path = m.path.value
            else if (m.path.type === 'RegularExpression') out.path = { regex: m.path.value }
            else if (m.path.value !== '/') out.path = { prefix: m.path.value }
          }
          if (typeof m.method === 'string') out.methods = [m.method]
          for (const [key, field] of [
            ['headers', 'headers'],
            ['queryParams', 'query'],
          ] as const) {
            const list = arr(m[key]).filter(isObj)
            if (list.length === 0) continue
            const map: Obj = {}
            list.forEach((h, k) => {
              if (typeof h.name !== 'string' || typeof h.value !== 'string') return
              t.unknown(h, ['name', 'value', 'type'], source, `${path}.matches[${j}].${key}[${k}]`)
              map[h.name.toLowerCase()] = h.type === 'RegularExpression' ? { regex: h.value } : h.value
            })
            out[field] = map
          }
          t.unknown(m, ['path', 'method', 'headers', 'queryParams'], source, `${path}.matches[${j}]`)
          return out
        })
        .filter((m) => Object.keys(m).length > 0)
      if (match.length > 0) route.match = match
      const split: Obj[] = []
      arr(rule.backendRefs).forEach((b, j) => {
        if (!isObj(b)) return
        const bpath = `${path}.backendRefs[${j}]`
        if (b.filters !== undefined)
          t.untranslated.push({ source, path: `${bpath}.filters`, reason: 'per-backend filters have no weft equivalent' })
        const subset = backendRef(b, bpath)
        const weight = typeof b.weight === 'number' ? b.weight : 1
        if (subset !== undefined && weight > 0) split.push({ subset, weight })
      })
      if (split.length > 0) route.split = split
      arr(rule.filters).forEach((f, j) => {
        const fpath = `${path}.filters[${j}]`
        if (isObj(f) && f.type === 'RequestMirror' && isObj(f.requestMirror) && isObj(f.requestMirror.backendRef)) {
          const m = f.requestMirror
          t.unknown(m, ['backendRef', 'percent', 'fraction'], source, `${fpath}.requestMirror`)
          const subset = backendRef(m.backendRef as Obj, `${fpath}.requestMirror.backendRef`)
          const fraction = isObj(m.fraction) ? (num(m.fraction.numerator) ?? 0) / (num(m.fraction.denominator) ?? 100) : undefined
          const percent = num(m.percent) ?? (fraction !== undefined ? fraction * 100 : 100)
          if (subset !== undefined) route.mirror = { subset, percent }
        } else t.untranslated.push({ source, path: fpath, reason: `filter ${isObj(f) ? String(f.type) : '?'} has no weft equivalent` })
      })
      if (isObj(rule.timeouts)) {
        t.unknown(rule.timeouts, ['request'], source, `${path}.timeouts`)
        if (typeof rule.timeouts.request === 'string') route.timeout = rule.timeouts.request
      }
      if (isObj(rule.retry)) {
        // Gateway API counts retries; weft counts every try
        t.unknown(rule.retry, ['attempts', 'codes'], source, `${path}.retry`)
        const retries: Obj = {}
        if (typeof rule.retry.attempts === 'number') retries.attempts = rule.retry.attempts + 1
        const codes = arr(rule.retry.codes).filter((c) => typeof c === 'number')
        if (codes.length > 0) retries.on = codes
        route.retries = retries
      }
      this.addRoute(s, route, source, path)
    })
  }

  trafficSplit(spec: Obj, source: string) {
    this.unknown(spec, ['service', 'backends', 'matches'], source, 'spec')
    if (typeof spec.service !== 'string') return
    const { s } = this.service(spec.service)
    const split: Obj[] = []
    arr(spec.backends).forEach((b, i) => {
      if (!isObj(b)) return
      this.unknown(b, ['service', 'weight'], source, `spec.backends[${i}]`)
      // v1alpha1 weights are quantities: once one is written `500m`, a plain 1 means 1000m too
      const scale = arr(spec.backends).some((x) => isObj(x) && typeof x.weight === 'string') && typeof b.weight === 'number' ? 1000 : 1
      const q = quantity(b.weight)
      const weight = q === undefined ? undefined : q * scale
      if (weight === undefined) {
        this.untranslated.push({
          source,
          path: `spec.backends[${i}].weight`,
          reason: `weight ${JSON.stringify(b.weight)} is not a number or quantity`,
        })
        return
      }
      if (weight > 0) split.push({ subset: this.backendSubset(s, String(b.service), source, `spec.backends[${i}]`), weight })
    })
    if (spec.matches !== undefined)
      this.untranslated.push({
        source,
        path: 'spec.matches',
        reason: 'a TrafficSplit scoped to an HTTPRouteGroup: add the match to the route by hand',
      })
    if (split.length > 0) this.addRoute(s, { split }, source, 'spec')
  }

  /**
   * One ALLOW rule per HTTPRouteGroup match (its path AND its methods), from every source. A match
   * whose path regex has no weft pattern is left out (allows less) and reported.
   */
  trafficTarget(spec: Obj, source: string) {
    this.unknown(spec, ['destination', 'sources', 'rules'], source, 'spec')
    const dest = isObj(spec.destination) ? spec.destination : {}
    if (typeof dest.name !== 'string') return
    this.unknown(dest, ['kind', 'name', 'namespace', 'port'], source, 'spec.destination')
    if (dest.port !== undefined)
      this.untranslated.push({ source, path: 'spec.destination.port', reason: 'weft authorizes a service on every port' })
    const { s, name } = this.service(dest.name)
    this.warnings.push({ source, path: 'spec.destination', reason: `service account ${dest.name} taken as service ${name}` })
    const from = arr(spec.sources)
      .filter(isObj)
      .map((src) => `spiffe://${this.trustDomain}/ns/${String(src.namespace ?? 'default')}/sa/${String(src.name)}`)
    const base: Obj = { action: 'ALLOW', ...(from.length > 0 ? { from } : {}) }
    let emitted = 0
    arr(spec.rules).forEach((rule, i) => {
      if (!isObj(rule) || rule.kind !== 'HTTPRouteGroup') {
        this.untranslated.push({ source, path: `spec.rules[${i}]`, reason: 'only HTTPRouteGroup rules translate' })
        return
      }
      const group = this.routeGroups.get(String(rule.name))
      if (group === undefined) {
        this.untranslated.push({
          source,
          path: `spec.rules[${i}]`,
          reason: `HTTPRouteGroup ${String(rule.name)} not among the imported files`,
        })
        return
      }
      const wanted = new Set(arr(rule.matches).map(String))
      for (const m of arr(group.matches).filter(isObj)) {
        if (wanted.size > 0 && !wanted.has(String(m.name))) continue
        const mpath = `HTTPRouteGroup/${String(rule.name)} matches.${String(m.name)}`
        const extra = Object.keys(m).filter((k) => !['name', 'pathRegex', 'methods'].includes(k))
        const paths = pathPatterns(str(m.pathRegex))
        if (paths === undefined || extra.length > 0) {
          this.untranslated.push({
            source,
            path: paths === undefined ? `${mpath}.pathRegex` : `${mpath}.${extra.join(', ')}`,
            reason: `${paths === undefined ? 'authorization paths are exact, prefix* or templates, not regexes' : 'no weft equivalent'}; the match is left out, so it allows less than SMI would`,
          })
          continue
        }
        const methods = arr(m.methods).map((x) => String(x).toUpperCase())
        const to: Obj = {}
        if (paths.length > 0) to.paths = paths
        if (methods.length > 0 && !methods.includes('*')) to.methods = methods
        ;(s.authorization ??= []).push({ ...base, ...(Object.keys(to).length > 0 ? { to } : {}) })
        emitted++
      }
    })
    if (arr(spec.rules).length === 0) (s.authorization ??= []).push(base)
    else if (emitted === 0) this.allowNothing.add(name)
  }
}

/** An SMI path regex as weft authorization paths: `[]` for any path, undefined when it has no weft pattern. */
function pathPatterns(re: string | undefined): string[] | undefined {
  if (re === undefined || re === '.*' || re === '/.*') return []
  const literal = /^\^?(\/[A-Za-z0-9._~/-]*?)(\.\*)?\$?$/.exec(re)
  if (literal === null || /\.(?!\*$)/.test(re.replace(/\\\./g, ''))) return undefined
  return [literal[2] !== undefined ? `${literal[1]}*` : (literal[1] as string)]
}

/** An SMI weight: a number or a Kubernetes quantity (`500m`, `1`), in thousandths so ratios stay whole. */
function quantity(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined
  const m = typeof v === 'string' ? /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(v) : null
  if (m === null) return undefined
  return m[2] === 'm' ? Number(m[1]) : Number(m[1]) * 1000
}

/** An Istio principal as a weft pattern: `cluster.local/ns/a/sa/b` → `spiffe://cluster.local/ns/a/sa/b`; `*` and `*suffix` stay. */
function spiffePattern(principal: string): string {
  return principal.startsWith('*') || principal.startsWith('spiffe://') ? principal : `spiffe://${principal}`
}

/** `payments.default.svc.cluster.local` → `payments`. */
function serviceName(host: string): string {
  return host.split('.')[0]?.toLowerCase() ?? host
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

function get(v: unknown, ...keys: string[]): unknown {
  let x = v
  for (const k of keys) x = isObj(x) ? x[k] : undefined
  return x
}
