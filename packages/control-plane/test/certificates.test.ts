/** POST /v1/certificates with a real trust anchor, real TLS and the real agent. */
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import https from 'node:https'
import { join } from 'node:path'
import * as x509 from '@peculiar/x509'
import { createAgent } from '@weft/agent'
import { ManualClock } from '@weft/core/testing'
import { createIdentity, createTrustAnchor, issueCertificate, type TrustAnchor, writeIdentity } from '@weft/mtls'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createControlPlane } from '../src/index.js'
import { policyDir, quiet, tempDir } from './helpers.js'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

const CHECKOUT = 'spiffe://weft.local/ns/default/sa/checkout'

async function issuingControlPlane(anchor: TrustAnchor, extra: { clock?: ManualClock; maxWait?: string } = {}) {
  const { dir } = await policyDir()
  const cp = await createControlPlane({
    dir,
    port: 0,
    logger: quiet,
    certificates: { anchor, bootstrapTokens: { 's3cret-bootstrap': 'checkout' } },
    ...extra,
  })
  onTestFinished(() => cp.close())
  return cp
}

async function csrFor(spiffeId: string): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'O=test',
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }])],
  })
  return csr.toString('pem')
}

/** POSTs a CSR over HTTPS, trusting the anchor; the control plane's certificate names it by SPIFFE ID, not by 127.0.0.1. */
function post(url: string, ca: string, body: string, headers: Record<string, string> = {}, client?: { cert: string; key: string }) {
  return new Promise<{
    status: number
    body: { error?: { message: string }; cert?: string; identity?: string; notAfter?: number; notBefore?: number }
  }>((resolve, reject) => {
    const req = https.request(`${url}/v1/certificates`, {
      method: 'POST',
      ca,
      ...client,
      checkServerIdentity: () => undefined,
      headers: { 'content-type': 'application/json', ...headers },
    })
    req.on('response', async (res) => {
      let text = ''
      for await (const c of res) text += c
      resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('certificates', () => {
  it('an agent obtains its first certificate with a bootstrap token', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const cp = await issuingControlPlane(anchor)
    const dir = await tempDir()
    const agent = createAgent({
      source: cp.url,
      service: 'checkout',
      logger: quiet,
      tls: { ca: anchor.cert },
      identity: { dir, token: 's3cret-bootstrap' },
    })
    onTestFinished(() => agent.close())

    await agent.start()

    const pems = {
      cert: await readFile(join(dir, 'cert.pem'), 'utf8'),
      key: await readFile(join(dir, 'key.pem'), 'utf8'),
      bundle: await readFile(join(dir, 'bundle.pem'), 'utf8'),
    }
    const identity = createIdentity(pems)
    expect(identity.spiffeId).toBe(CHECKOUT)
    expect(identity.notAfter.getTime() - identity.notBefore.getTime()).toBe(24 * 3_600_000 + 60_000)
    expect(pems.bundle).toBe(anchor.cert)
    expect(cp.url.startsWith('https://')).toBe(true)
    expect(agent.status().certificate).toMatchObject({ identity: CHECKOUT, obtained: 1, lastError: undefined })
    expect(cp.status().certificates).toEqual({ issued: 1, refused: 0 })
  })

  it('renews it at half its lifetime, authenticated by the certificate itself (manual clock)', async () => {
    const clock = new ManualClock(Date.now())
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    // long polls that outlast the test, so advancing the clock by hours does not replay thousands of them
    const cp = await issuingControlPlane(anchor, { clock, maxWait: '20h' })
    const dir = await tempDir()
    const renewed: string[] = []
    const agent = createAgent({
      source: cp.url,
      service: 'checkout',
      clock,
      wait: '20h',
      logger: quiet,
      tls: { ca: anchor.cert },
      identity: { dir, token: 's3cret-bootstrap', onCertificate: (p) => void renewed.push(p.cert) },
    })
    onTestFinished(() => agent.close())
    await agent.start()
    const first = agent.status().certificate

    await clock.advance('11h58m')
    expect(agent.status().certificate?.obtained).toBe(1)
    await clock.advance('2m')

    // a new key, a CSR and an HTTPS round trip: more than waitFor's default second on a loaded machine
    await vi.waitFor(() => expect(agent.status().certificate?.obtained).toBe(2), { timeout: 10_000 })
    const second = createIdentity(
      { cert: await readFile(join(dir, 'cert.pem'), 'utf8'), key: await readFile(join(dir, 'key.pem'), 'utf8'), bundle: anchor.cert },
      { now: clock.now() },
    )
    expect(second.notAfter.getTime()).toBeGreaterThan(first?.notAfter as number)
    expect(renewed).toHaveLength(2)
    expect(agent.status().certificate?.renewAt).toBe(second.notBefore.getTime() + 12 * 3_600_000 + 30_000)
  })

  it('an agent with a valid certificate and no token renews over mTLS', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const cp = await issuingControlPlane(anchor)
    const dir = await tempDir()
    // past half of its lifetime: due now
    await writeIdentity(
      dir,
      await issueCertificate({ anchor, spiffeId: CHECKOUT, lifetime: '24h', notBefore: new Date(Date.now() - 13 * 3_600_000) }),
    )
    const agent = createAgent({ source: cp.url, service: 'checkout', logger: quiet, identity: { dir } })
    onTestFinished(() => agent.close())

    await agent.start()

    expect(agent.status().certificate?.obtained).toBe(1)
    expect(cp.status().certificates).toEqual({ issued: 1, refused: 0 })
    const cert = createIdentity({
      cert: await readFile(join(dir, 'cert.pem'), 'utf8'),
      key: await readFile(join(dir, 'key.pem'), 'utf8'),
      bundle: anchor.cert,
    })
    expect(cert.notBefore.getTime()).toBeGreaterThan(Date.now() - 5 * 60_000)
  })

  it('an unauthenticated CSR is refused', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const cp = await issuingControlPlane(anchor)
    const body = JSON.stringify({ csr: await csrFor(CHECKOUT) })

    const none = await post(cp.url, anchor.cert, body)
    const wrong = await post(cp.url, anchor.cert, body, { authorization: 'Bearer guessed' })

    expect(none.status).toBe(401)
    expect(none.body.error?.message).toContain('bootstrap token')
    expect(wrong.status).toBe(401)
    expect(wrong.body.cert).toBeUndefined()
    expect(cp.status().certificates).toEqual({ issued: 0, refused: 2 })
  })

  it('a CSR asking for an identity other than the caller’s is refused', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const cp = await issuingControlPlane(anchor)
    const checkout = await issueCertificate({ anchor, spiffeId: CHECKOUT })

    const byToken = await post(cp.url, anchor.cert, JSON.stringify({ csr: await csrFor('spiffe://weft.local/ns/default/sa/payments') }), {
      authorization: 'Bearer s3cret-bootstrap',
    })
    const byCert = await post(
      cp.url,
      anchor.cert,
      JSON.stringify({ csr: await csrFor('spiffe://weft.local/ns/default/sa/admin') }),
      {},
      checkout,
    )
    const own = await post(cp.url, anchor.cert, JSON.stringify({ csr: await csrFor(CHECKOUT) }), {}, checkout)

    expect(byToken.status).toBe(403)
    expect(byToken.body.error?.message).toBe(`the CSR asks for spiffe://weft.local/ns/default/sa/payments, but the caller is ${CHECKOUT}`)
    expect(byCert.status).toBe(403)
    expect(own.status).toBe(200)
    expect(own.body.identity).toBe(CHECKOUT)
  })

  it("a certificate from another trust domain's anchor does not authenticate", async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const other = await createTrustAnchor({ trustDomain: 'weft.local' })
    const cp = await issuingControlPlane(anchor)
    const impostor = await issueCertificate({ anchor: other, spiffeId: CHECKOUT })

    const res = await post(cp.url, anchor.cert, JSON.stringify({ csr: await csrFor(CHECKOUT) }), {}, impostor)

    expect(res.status).toBe(403)
    expect(res.body.error?.message).toContain('client certificate refused')
  })

  it('a garbage CSR is refused with the reason', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const cp = await issuingControlPlane(anchor)

    const res = await post(
      cp.url,
      anchor.cert,
      JSON.stringify({ csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----' }),
      { authorization: 'Bearer s3cret-bootstrap' },
    )

    expect(res.status).toBe(400)
    expect(res.body.error?.message).toContain('bad certificate request')
  })

  it('TLS failure: an agent that does not trust the control plane never takes its policy', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const stranger = await createTrustAnchor({ trustDomain: 'weft.local' })
    const cp = await issuingControlPlane(anchor)
    const agent = createAgent({
      source: cp.url,
      service: 'checkout',
      logger: quiet,
      tls: { ca: stranger.cert },
      startTimeout: '300ms',
      backoff: { base: '10ms', max: '50ms' },
    })

    await expect(agent.start()).rejects.toMatchObject({ code: 'WEFT_POLICY_UNAVAILABLE' })
    expect(agent.status().lastError).toMatchObject({ kind: 'network' })
    expect(agent.status().lastError?.message).toMatch(/certificate/i)
  })

  it('a server with a certificate from the right anchor but another identity is not the control plane', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const workload = await issueCertificate({ anchor, spiffeId: 'spiffe://weft.local/ns/default/sa/payments' })
    const server = https.createServer({ cert: workload.cert, key: workload.key }, (_req, res) => res.end('{}'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const { port } = server.address() as { port: number }
    const agent = createAgent({
      source: `https://127.0.0.1:${port}`,
      service: 'checkout',
      logger: quiet,
      tls: { ca: anchor.cert },
      startTimeout: '300ms',
      backoff: { base: '10ms', max: '50ms' },
    })

    await expect(agent.start()).rejects.toMatchObject({ code: 'WEFT_POLICY_UNAVAILABLE' })
    expect(agent.status().lastError?.message).toContain('the server is not spiffe://weft.local/ns/weft-system/sa/control-plane')
  })

  it('without a token or a certificate, start() gives up at startTimeout and says why', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const cp = await issuingControlPlane(anchor)
    const agent = createAgent({
      source: cp.url,
      service: 'checkout',
      logger: quiet,
      tls: { ca: anchor.cert },
      startTimeout: '300ms',
      identity: { dir: await tempDir() },
    })

    const err = await agent.start().catch((e: unknown) => e)

    expect(err).toMatchObject({ code: 'WEFT_POLICY_UNAVAILABLE' })
    expect((err as Error).message).toContain('no bootstrap token')
  })

  it('refuses bootstrap tokens no caller could use, naming the entry and never the token', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const { dir } = await policyDir()
    const start = (bootstrapTokens: unknown) =>
      createControlPlane({
        dir,
        port: 0,
        logger: quiet,
        certificates: { anchor, bootstrapTokens: bootstrapTokens as Record<string, string> },
      }).then(
        (cp) => cp.close(),
        (err: unknown) => err as Error & { code?: string },
      )

    const errors = await Promise.all([
      start(['s3cret-one', 'checkout']),
      start({ 's3cret-one': 'checkout', 's3cret two': 'payments' }),
      start({ 's3cret-one': 'checkout', 's3cret-two': 42 }),
      start({ 's3cret-one': '' }),
    ])

    expect(errors.map((e) => e?.code)).toEqual(Array(4).fill('WEFT_INVALID_ARGUMENT'))
    expect(errors.map((e) => e?.message)).toEqual([
      'createControlPlane: certificates.bootstrapTokens: must be an object { "<token>": "<service>" }',
      'createControlPlane: certificates.bootstrapTokens: entry 2: the token must be 1 to 512 printable ASCII characters without spaces (what authorization: Bearer carries)',
      'createControlPlane: certificates.bootstrapTokens: entry 2: the service must be a service name, got 42',
      'createControlPlane: certificates.bootstrapTokens: entry 1: the service must be a service name, got ""',
    ])
    for (const e of errors) expect(e?.message).not.toContain('s3cret')
  })

  it('refuses a certificate lifetime of 0 or one that is not a duration, naming the option', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'weft.local' })
    const { dir } = await policyDir()
    const start = (lifetime: unknown) =>
      createControlPlane({ dir, port: 0, logger: quiet, certificates: { anchor, lifetime: lifetime as string } }).then(
        (cp) => cp.close(),
        (err: unknown) => err as Error & { code?: string },
      )

    const [zero, garbage] = await Promise.all([start(0), start('a month')])

    expect(zero).toMatchObject({
      code: 'WEFT_INVALID_ARGUMENT',
      message: 'createControlPlane: certificates.lifetime must be longer than 0: it would issue expired certificates',
    })
    expect(garbage).toMatchObject({
      code: 'WEFT_INVALID_ARGUMENT',
      message: expect.stringMatching(/^createControlPlane: certificates\.lifetime: invalid duration "a month"/),
    })
  })
})
