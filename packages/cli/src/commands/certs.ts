/** `weft certs`: a development trust anchor, service certificates issued from it, and what a certificate says. */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type CertificateDescription,
  createTrustAnchor,
  DEFAULT_NAMESPACE,
  describeCertificate,
  IDENTITY_FILES,
  issueCertificate,
  type KeyType,
  loadTrustAnchor,
  serviceSpiffeId,
  writeIdentity,
} from '@weft/mtls'
import type { Command } from 'commander'
import { choiceFlag, lifetimeFlag, orList, readNamedFile } from '../flags.js'

/** The files `weft certs anchor` writes (and `weft control-plane --anchor-cert/--anchor-key` reads). */
export const ANCHOR_FILES = { cert: 'anchor.pem', key: 'anchor.key' } as const

/** What `--key-type` takes: the key types @weft/mtls makes. */
const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const satisfies readonly KeyType[]

export interface AnchorFlags {
  trustDomain: string
  out: string
  lifetime: string
  keyType: string
}

export interface IssueFlags {
  anchor: string
  out: string
  service?: string
  namespace: string
  spiffeId?: string
  lifetime: string
  keyType: string
  dns?: string[]
}

type Log = (line: string) => void

export function registerCerts(program: Command): void {
  const certs = program
    .command('certs')
    .description('development certificates: a trust anchor, SPIFFE service certificates, and what a certificate says')

  certs
    .command('anchor')
    .description(
      `create a trust anchor for a trust domain: writes ${ANCHOR_FILES.cert} (goes in every bundle) and ${ANCHOR_FILES.key} (keep it secret)`,
    )
    .requiredOption('--trust-domain <name>', 'the trust domain, e.g. weft.local')
    .option('--out <dir>', 'directory to write into', '.')
    .option('--lifetime <duration>', 'validity, e.g. 365d, 720h', '365d')
    .option('--key-type <type>', orList(KEY_TYPES), 'ec-p256')
    .action(async (flags: AnchorFlags) => {
      await runAnchor(flags)
    })

  certs
    .command('issue')
    .description(
      `issue a service certificate from an anchor: writes ${IDENTITY_FILES.cert}, ${IDENTITY_FILES.key} and ${IDENTITY_FILES.bundle}, what createMesh({ identity: { dir } }) reads`,
    )
    .requiredOption('--anchor <dir>', `directory holding ${ANCHOR_FILES.cert} and ${ANCHOR_FILES.key}`)
    .option('--service <name>', 'the service; its identity is spiffe://<trust domain>/ns/<namespace>/sa/<service>')
    .option('--namespace <ns>', 'the namespace of --service', DEFAULT_NAMESPACE)
    .option('--spiffe-id <id>', 'an explicit SPIFFE ID instead of --service')
    .option('--out <dir>', 'directory to write into (a mesh watching it picks the new certificate up)', '.')
    .option('--lifetime <duration>', 'validity, e.g. 24h, 90m, 30d', '24h')
    .option('--key-type <type>', orList(KEY_TYPES), 'ec-p256')
    .option('--dns <name...>', 'DNS names to add for callers outside the mesh (weft itself never reads them)')
    .action(async (flags: IssueFlags) => {
      await runIssue(flags)
    })

  certs
    .command('show')
    .description('print the identity, validity and SVID problems of a certificate (a PEM file, or a directory holding cert.pem)')
    .argument('<path>', 'a PEM file or an identity directory')
    .option('--json', 'print JSON')
    .action(async (path: string, flags: { json?: boolean }) => {
      if (!(await runShow(path, flags))) process.exitCode = 1
    })
}

/** `weft certs anchor`; resolves to the files written. */
export async function runAnchor(flags: AnchorFlags, log: Log = console.log): Promise<{ cert: string; key: string }> {
  const lifetime = lifetimeFlag('weft certs anchor: --lifetime', flags.lifetime)
  const keyType = choiceFlag('weft certs anchor: --key-type', flags.keyType, KEY_TYPES)
  const anchor = await createTrustAnchor({ trustDomain: flags.trustDomain, lifetime, keyType })
  await mkdir(flags.out, { recursive: true })
  const files = { cert: join(flags.out, ANCHOR_FILES.cert), key: join(flags.out, ANCHOR_FILES.key) }
  await atomicWrite(files.key, anchor.key, 0o600)
  await atomicWrite(files.cert, anchor.cert, 0o644)
  log(`trust anchor for ${anchor.trustDomain}, valid until ${anchor.notAfter.toISOString()}`)
  log(`  ${files.cert}  (put it in every bundle.pem)`)
  log(`  ${files.key}  (secret: keep it off workloads)`)
  return files
}

/** `weft certs issue`; resolves to the SPIFFE ID issued. */
export async function runIssue(flags: IssueFlags, log: Log = console.log): Promise<string> {
  if ((flags.service === undefined) === (flags.spiffeId === undefined))
    throw new Error('weft certs issue: give exactly one of --service <name> and --spiffe-id <id>')
  const lifetime = lifetimeFlag('weft certs issue: --lifetime', flags.lifetime)
  const keyType = choiceFlag('weft certs issue: --key-type', flags.keyType, KEY_TYPES)
  const anchor = loadTrustAnchor({
    cert: await readNamedFile('weft certs issue: --anchor', join(flags.anchor, ANCHOR_FILES.cert)),
    key: await readNamedFile('weft certs issue: --anchor', join(flags.anchor, ANCHOR_FILES.key)),
  })
  const spiffeId = flags.spiffeId ?? serviceSpiffeId(anchor.trustDomain, flags.service as string, flags.namespace)
  const issued = await issueCertificate({
    anchor,
    spiffeId,
    lifetime,
    keyType,
    dnsNames: flags.dns,
  })
  await writeIdentity(flags.out, issued)
  log(`issued ${issued.spiffeId}, valid until ${issued.notAfter.toISOString()}, serial ${issued.serialNumber}`)
  log(`  ${join(flags.out, IDENTITY_FILES.cert)}, ${IDENTITY_FILES.key}, ${IDENTITY_FILES.bundle}`)
  return issued.spiffeId
}

/** `weft certs show`; resolves to true when the certificate is a valid, current X.509-SVID. */
export async function runShow(path: string, flags: { json?: boolean } = {}, log: Log = console.log, now = Date.now()): Promise<boolean> {
  const directory = await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  )
  const file = directory ? join(path, IDENTITY_FILES.cert) : path
  const text = await readNamedFile('weft certs show:', file)
  let d: ReturnType<typeof describeCertificate>
  try {
    d = describeCertificate(text)
  } catch (err) {
    throw new Error(`weft certs show: ${file}: ${(err as Error).message}`, { cause: err })
  }
  const problems = [...d.svidProblems, ...validityProblems(d, now)]
  if (flags.json) {
    log(JSON.stringify({ file, ...d, notBefore: d.notBefore.toISOString(), notAfter: d.notAfter.toISOString(), problems }, null, 2))
    return problems.length === 0 || d.isCA
  }
  const rows: [string, string][] = [
    ['file', file],
    ['identity', d.spiffeId ?? '(none: not an X.509-SVID)'],
    ['trust domain', d.trustDomain ?? '-'],
    ['URI SANs', d.uris.join(', ') || '-'],
  ]
  if (d.dnsNames.length > 0) rows.push(['DNS SANs', d.dnsNames.join(', ')])
  rows.push(
    ['subject', d.subject || '-'],
    ['issuer', d.issuer],
    ['serial', d.serialNumber],
    ['valid from', d.notBefore.toISOString()],
    ['valid until', `${d.notAfter.toISOString()} (${expiresIn(d.notAfter.getTime() - now)})`],
    ['key', d.publicKey],
    ['CA', d.isCA ? 'yes (a trust anchor or intermediate, not a workload certificate)' : 'no'],
    ['key usage', d.keyUsage?.join(', ') ?? '(none)'],
  )
  const width = Math.max(...rows.map(([k]) => k.length))
  for (const [k, v] of rows) log(`${k.padEnd(width)}  ${v}`)
  if (d.isCA) return validityProblems(d, now).length === 0
  log(problems.length === 0 ? 'SVID: ok' : `SVID: ${problems.length} problem(s)`)
  for (const p of problems) log(`  - ${p}`)
  return problems.length === 0
}

function validityProblems(d: CertificateDescription, now: number): string[] {
  if (now < d.notBefore.getTime()) return [`not yet valid: valid from ${d.notBefore.toISOString()}`]
  if (now > d.notAfter.getTime()) return [`expired on ${d.notAfter.toISOString()}`]
  return []
}

function expiresIn(ms: number): string {
  const abs = Math.abs(ms)
  const text =
    abs >= 172_800_000
      ? `${Math.floor(abs / 86_400_000)} days`
      : abs >= 7_200_000
        ? `${Math.floor(abs / 3_600_000)} hours`
        : `${Math.floor(abs / 60_000)} minutes`
  return ms >= 0 ? `in ${text}` : `expired ${text} ago`
}

async function atomicWrite(file: string, text: string, mode: number) {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, text, { mode })
  await rename(tmp, file)
}
