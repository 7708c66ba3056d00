/**
 * `weft check <files…>`: validates policy documents and certificates (identity, chain, expiry) and
 * that an admin endpoint or control plane answers, one √ / ‼ / × line per check, like `linkerd check`.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { isWeftError } from '@weft/core'
import { describeCertificate, IDENTITY_FILES } from '@weft/mtls'
import { loadPolicy } from '@weft/policy'
import type { Command } from 'commander'
import { whyFetchFailed } from '../admin-client.js'
import { readNamedFile, wholeFlag } from '../flags.js'

export interface CheckFlags {
  admin?: string
  controlPlane?: string
  /** The service asked for at the control plane. */
  service?: string
  /** Trust bundle (PEM) that certificate files are checked against. */
  bundle?: string
  /** Days before expiry that turn a certificate check into a warning. */
  warnDays?: string
  json?: boolean
}

export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface CheckResult {
  /** What was checked: a file name, or `admin` / `control-plane`. */
  readonly target: string
  readonly status: CheckStatus
  readonly message: string
}

export const CHECK_DEFAULTS = { warnDays: 60, timeoutMs: 5000 } as const
const MARK: Record<CheckStatus, string> = { ok: '√', warn: '‼', fail: '×' }
const DAY = 86_400_000
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check policy files, certificate files or identity directories, and that an admin endpoint or control plane answers')
    .argument('[files...]', 'policy documents (.yaml, .yml, .json), certificates (.pem, .crt), keys (.key), identity directories')
    .option('--admin <url>', 'check that this admin endpoint answers /live, /ready and /metrics')
    .option('--control-plane <url>', 'check that this control plane serves a policy')
    .option('--service <name>', 'the service to ask the control plane for', 'weft-check')
    .option('--bundle <file>', 'trust bundle (PEM) to verify certificate files against')
    .option('--warn-days <days>', 'warn when a certificate expires within this many days', String(CHECK_DEFAULTS.warnDays))
    .option('--json', 'print JSON instead of lines')
    .action(async (files: string[], flags: CheckFlags) => {
      process.exitCode = await runCheck(files, flags)
    })
}

/** Runs every check, prints the lines (or JSON), and resolves to the exit code: 1 when any check failed. */
export async function runCheck(files: readonly string[], flags: CheckFlags, out: (text: string) => void = console.log): Promise<number> {
  const results = await checkAll(files, flags)
  const ok = results.every((r) => r.status !== 'fail')
  if (flags.json) out(JSON.stringify({ ok, checks: results }, null, 2))
  else {
    for (const r of results) out(`${MARK[r.status]} ${r.target}: ${r.message}`)
    if (results.length === 0) out('nothing to check: give files, --admin or --control-plane')
    else out(ok ? 'Status check results are √' : 'Status check results are ×')
  }
  return ok && results.length > 0 ? 0 : 1
}

/** Every check's result, in the order given. */
export async function checkAll(files: readonly string[], flags: CheckFlags): Promise<CheckResult[]> {
  const warnDays = wholeFlag('--warn-days', flags.warnDays, 0) ?? CHECK_DEFAULTS.warnDays
  const bundle = flags.bundle === undefined ? undefined : await readBundle(flags.bundle)
  const results: CheckResult[] = []
  for (const file of files) results.push(...(await checkPath(file, warnDays, bundle)))
  if (flags.admin !== undefined) results.push(...(await checkAdmin(flags.admin)))
  if (flags.controlPlane !== undefined) results.push(await checkControlPlane(flags.controlPlane, flags.service ?? 'weft-check'))
  return results
}

async function checkPath(path: string, warnDays: number, bundle: X509Certificate[] | undefined): Promise<CheckResult[]> {
  let isDir: boolean
  try {
    isDir = (await stat(path)).isDirectory()
  } catch (err) {
    return [{ target: path, status: 'fail', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]
  }
  if (isDir) return checkIdentityDir(path, warnDays)
  const text = await readFile(path, 'utf8')
  if (/\.(ya?ml|json)$/i.test(path) || !text.includes('-----BEGIN')) return [await checkPolicy(path)]
  if (text.includes('-----BEGIN CERTIFICATE-----')) return checkCertificates(path, text, warnDays, bundle)
  return [checkKey(path, text)]
}

/** A policy document: valid, or every bad field with its path. */
export async function checkPolicy(path: string): Promise<CheckResult> {
  try {
    const policy = await loadPolicy(path)
    const services = Object.keys(policy.services)
    return {
      target: path,
      status: 'ok',
      message: `policy valid (version ${policy.version.slice(0, 12)}, ${services.length} ${services.length === 1 ? 'service' : 'services'}${services.length > 0 ? `: ${services.join(', ')}` : ''})`,
    }
  } catch (err) {
    if (isWeftError(err) && Array.isArray(err.details.issues) && err.details.issues.length > 0) {
      const issues = err.details.issues.map((i: unknown) =>
        typeof i === 'string'
          ? i
          : typeof i === 'object' && i !== null && 'message' in i
            ? `${(i as { path?: string }).path ?? ''}${(i as { path?: string }).path ? ': ' : ''}${(i as { message: string }).message}`
            : JSON.stringify(i),
      )
      return { target: path, status: 'fail', message: `policy invalid: ${issues.join('; ')}` }
    }
    return { target: path, status: 'fail', message: `policy invalid: ${(err as Error).message}` }
  }
}

/** Every certificate in a PEM file: parseable, valid now and for more than `warnDays`, a good SVID when it is a leaf, chained. */
export function checkCertificates(
  path: string,
  text: string,
  warnDays: number,
  bundle: X509Certificate[] | undefined,
  now = Date.now(),
): CheckResult[] {
  const blocks = text.match(CERT_BLOCK) ?? []
  const results: CheckResult[] = []
  const certs: X509Certificate[] = []
  blocks.forEach((pem, i) => {
    const target = blocks.length === 1 ? path : `${path}[${i}]`
    let cert: X509Certificate
    let facts: ReturnType<typeof describeCertificate>
    try {
      cert = new X509Certificate(pem)
      facts = describeCertificate(pem)
    } catch (err) {
      results.push({ target, status: 'fail', message: `not a parseable certificate: ${(err as Error).message}` })
      return
    }
    certs.push(cert)
    const who = facts.spiffeId ?? (facts.isCA ? `CA ${facts.subject}` : (facts.uris[0] ?? facts.subject))
    const left = facts.notAfter.getTime() - now
    const until = facts.notAfter.toISOString().slice(0, 10)
    if (facts.notBefore.getTime() > now)
      results.push({ target, status: 'fail', message: `${who}: not valid before ${facts.notBefore.toISOString()}` })
    else if (left <= 0) results.push({ target, status: 'fail', message: `${who}: expired on ${until}` })
    else if (!facts.isCA && facts.svidProblems.length > 0)
      results.push({ target, status: 'fail', message: `${who}: not a valid X.509-SVID: ${facts.svidProblems.join('; ')}` })
    else if (left < warnDays * DAY)
      results.push({
        target,
        status: 'warn',
        message: `${who}: expires in ${Math.floor(left / DAY)} days (${until}); renew before ${warnDays} days are left`,
      })
    else results.push({ target, status: 'ok', message: `${who}, valid until ${until} (${Math.floor(left / DAY)} days)` })
  })
  if (blocks.length === 0) results.push({ target: path, status: 'fail', message: 'no certificate in the file' })
  // a chain in the file: each certificate is signed by the next
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!signedBy(certs[i] as X509Certificate, certs[i + 1] as X509Certificate))
      results.push({
        target: `${path}[${i}]`,
        status: 'fail',
        message: `not signed by the next certificate in the file (${(certs[i + 1] as X509Certificate).subject.replace(/\n/g, ', ')})`,
      })
  }
  if (bundle !== undefined && certs.length > 0) results.push(chainResult(path, certs, bundle))
  return results
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey)
  } catch {
    return false
  }
}

function chainResult(target: string, certs: X509Certificate[], bundle: X509Certificate[]): CheckResult {
  const last = certs[certs.length - 1] as X509Certificate
  const anchor = bundle.find((ca) => signedBy(last, ca) || (ca.fingerprint256 === last.fingerprint256 && ca.ca))
  return anchor === undefined
    ? { target, status: 'fail', message: 'does not chain to the trust bundle' }
    : { target, status: 'ok', message: `chains to ${anchor.subject.replace(/\n/g, ', ')}` }
}

function checkKey(path: string, text: string): CheckResult {
  try {
    const key = createPrivateKey(text)
    return { target: path, status: 'ok', message: `private key (${key.asymmetricKeyType})` }
  } catch (err) {
    return { target: path, status: 'fail', message: `not a certificate, a private key or a policy: ${(err as Error).message}` }
  }
}

/** An identity directory as `createMesh({ identity: { dir } })` reads it: cert.pem, key.pem, bundle.pem. */
async function checkIdentityDir(dir: string, warnDays: number): Promise<CheckResult[]> {
  const read = (name: string) => readFile(join(dir, name), 'utf8').catch(() => undefined)
  const [cert, key, bundle] = await Promise.all([read(IDENTITY_FILES.cert), read(IDENTITY_FILES.key), read(IDENTITY_FILES.bundle)])
  const missing = [
    [IDENTITY_FILES.cert, cert],
    [IDENTITY_FILES.key, key],
    [IDENTITY_FILES.bundle, bundle],
  ]
    .filter(([, v]) => v === undefined)
    .map(([n]) => n)
  if (missing.length > 0) return [{ target: dir, status: 'fail', message: `identity directory lacks ${missing.join(', ')}` }]
  const anchors = (bundle as string).match(CERT_BLOCK)?.map((p) => new X509Certificate(p)) ?? []
  const results = checkCertificates(join(dir, IDENTITY_FILES.cert), cert as string, warnDays, anchors)
  results.push(
    ...checkCertificates(join(dir, IDENTITY_FILES.bundle), bundle as string, warnDays, undefined).filter((r) => r.status !== 'ok'),
  )
  try {
    const leaf = new X509Certificate(((cert as string).match(CERT_BLOCK) ?? [''])[0] as string)
    const matches = leaf.checkPrivateKey(createPrivateKey(key as string))
    results.push(
      matches
        ? { target: join(dir, IDENTITY_FILES.key), status: 'ok', message: `matches ${basename(IDENTITY_FILES.cert)}` }
        : { target: join(dir, IDENTITY_FILES.key), status: 'fail', message: `does not match ${IDENTITY_FILES.cert}` },
    )
  } catch (err) {
    results.push({ target: join(dir, IDENTITY_FILES.key), status: 'fail', message: `cannot be checked: ${(err as Error).message}` })
  }
  return results
}

async function readBundle(path: string): Promise<X509Certificate[]> {
  const text = await readNamedFile('--bundle', path)
  const blocks = text.match(CERT_BLOCK) ?? []
  if (blocks.length === 0) throw new Error(`--bundle ${path}: no certificate in the file`)
  return blocks.map((pem, i) => {
    try {
      return new X509Certificate(pem)
    } catch (err) {
      throw new Error(`--bundle ${path}: certificate ${i + 1} is not parseable (${(err as Error).message})`)
    }
  })
}

async function get(url: string): Promise<{ status: number; text: string; etag: string | null } | Error> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(CHECK_DEFAULTS.timeoutMs) })
    return { status: res.status, text: await res.text(), etag: res.headers.get('etag') }
  } catch (err) {
    return new Error(whyFetchFailed(err))
  }
}

/** An admin endpoint: alive, ready, and serving weft's metrics. */
export async function checkAdmin(url: string): Promise<CheckResult[]> {
  const base = url.replace(/\/+$/, '')
  const live = await get(`${base}/live`)
  if (live instanceof Error) return [{ target: 'admin', status: 'fail', message: `${base} does not answer: ${live.message}` }]
  if (live.status !== 200) return [{ target: 'admin', status: 'fail', message: `${base}/live answered ${live.status}` }]
  const results: CheckResult[] = [{ target: 'admin', status: 'ok', message: `${base} is live` }]
  const ready = await get(`${base}/ready`)
  results.push(
    !(ready instanceof Error) && ready.status === 200
      ? { target: 'admin', status: 'ok', message: 'mesh is ready' }
      : { target: 'admin', status: 'fail', message: `mesh is not ready (${ready instanceof Error ? ready.message : ready.status})` },
  )
  const metrics = await get(`${base}/metrics`)
  results.push(
    !(metrics instanceof Error) && metrics.status === 200 && metrics.text.includes('weft_requests_total')
      ? { target: 'admin', status: 'ok', message: 'serves weft metrics' }
      : {
          target: 'admin',
          status: 'fail',
          message: `/metrics does not serve weft's metrics (${metrics instanceof Error ? metrics.message : metrics.status})`,
        },
  )
  return results
}

/** A control plane: serves a policy document for a service, with an ETag. */
export async function checkControlPlane(url: string, service: string): Promise<CheckResult> {
  const base = url.replace(/\/+$/, '')
  const res = await get(`${base}/v1/policy?service=${encodeURIComponent(service)}`)
  if (res instanceof Error) return { target: 'control-plane', status: 'fail', message: `${base} does not answer: ${res.message}` }
  if (res.status !== 200) return { target: 'control-plane', status: 'fail', message: `${base}/v1/policy answered ${res.status}` }
  return {
    target: 'control-plane',
    status: 'ok',
    message: `${base} serves policy${res.etag === null ? '' : ` version ${res.etag.replace(/"/g, '')}`}`,
  }
}
