import { createPrivateKey, sign, X509Certificate } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { Certificate, Version } from '@peculiar/asn1-x509'
import { isWeftError } from '@weft/core'
import { describe, expect, it } from 'vitest'
import type { IssuedCertificate, TrustAnchor } from '../src/index.js'
import { createTrustAnchor, describeCertificate, issueCertificate, loadTrustAnchor, parseLifetime } from '../src/index.js'
import { x509 as loadX509, toPem } from '../src/x509.js'

const x509 = loadX509()

import { anchorFor, craft, id, svid } from './helpers.js'

/** Rewrites a certificate as X.509 v1 (no extensions) and signs it again, as an old CA tool would issue it. */
async function asVersion1(issued: IssuedCertificate, anchor: TrustAnchor): Promise<string> {
  const der = Buffer.from(issued.cert.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64')
  const cert = AsnConvert.parse(der, Certificate)
  cert.tbsCertificate.version = Version.v1
  cert.tbsCertificate.extensions = undefined
  const tbs = Buffer.from(AsnConvert.serialize(cert.tbsCertificate))
  const signature = sign('sha256', tbs, createPrivateKey(anchor.key))
  cert.signatureValue = new Uint8Array(signature).buffer
  return toPem(AsnConvert.serialize(cert), 'CERTIFICATE')
}

describe('the development certificate authority', () => {
  it('issues an X.509-SVID with one URI SAN, not a CA, for server and client auth', async () => {
    const issued = await svid('checkout', { lifetime: '2h' })
    const d = describeCertificate(issued.cert)

    expect(d.spiffeId).toBe(id('checkout'))
    expect(d.uris).toEqual([id('checkout')])
    expect(d.isCA).toBe(false)
    expect(d.keyUsage).toEqual(['digitalSignature'])
    expect(d.extendedKeyUsage).toEqual(['serverAuth', 'clientAuth'])
    expect(d.publicKey).toBe('ec P-256')
    expect(d.version).toBe(3)
    expect(d.svidProblems).toEqual([])
    expect(d.notAfter.getTime() - d.notBefore.getTime()).toBe(2 * 3_600_000)
    expect(issued.bundle).toBe((await anchorFor()).cert)
  })

  it('makes an anchor that is a CA naming its trust domain, and reads it back', async () => {
    const anchor = await createTrustAnchor({ trustDomain: 'corp.example', lifetime: '30d' })
    const d = describeCertificate(anchor.cert)
    expect(d.isCA).toBe(true)
    expect(d.uris).toEqual(['spiffe://corp.example'])
    expect(d.keyUsage).toContain('keyCertSign')
    expect(loadTrustAnchor(anchor)).toMatchObject({ trustDomain: 'corp.example' })
  })

  it('refuses to issue outside the anchor’s trust domain, or an invalid ID', async () => {
    const anchor = await anchorFor()
    await expect(issueCertificate({ anchor, spiffeId: 'spiffe://other.local/ns/default/sa/a' })).rejects.toThrow(
      /not in the anchor's trust domain weft.local/,
    )
    await expect(issueCertificate({ anchor, spiffeId: 'spiffe://weft.local/ns/../sa/a' })).rejects.toThrow(/dot segments/)
    await expect(issueCertificate({ anchor, spiffeId: id('a'), lifetime: '10000d' })).rejects.toThrow(/outlive its anchor/)
  })

  it('issues RSA keys when asked', async () => {
    const anchor = await anchorFor()
    const issued = await issueCertificate({ anchor, spiffeId: id('legacy'), keyType: 'rsa-2048' })
    const d = describeCertificate(issued.cert)
    expect(d.publicKey).toBe('rsa 2048')
    expect(d.keyUsage).toEqual(['digitalSignature', 'keyEncipherment'])
    expect(d.svidProblems).toEqual([])
  })

  it('reads lifetimes in days, hours or minutes', () => {
    expect(parseLifetime('90d')).toBe(90 * 86_400_000)
    expect(parseLifetime('24h')).toBe(86_400_000)
    expect(parseLifetime(60_000)).toBe(60_000)
    expect(() => parseLifetime('0s')).toThrow(/invalid lifetime/)
    expect(() => parseLifetime('1y')).toThrow(/invalid lifetime/)
  })
})

describe('X.509-SVID rules, read from the DER (OpenSSL accepts all of these leaves)', () => {
  const cases: [string, Parameters<typeof craft>[1], RegExp][] = [
    ['a leaf with CA:TRUE', { uris: [id('a')], ca: true }, /must not have CA flag/],
    [
      'keyCertSign in key usage',
      { uris: [id('a')], keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign },
      /keyCertSign/,
    ],
    ['cRLSign in key usage', { uris: [id('a')], keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.cRLSign }, /cRLSign/],
    ['no digitalSignature', { uris: [id('a')], keyUsage: x509.KeyUsageFlags.keyEncipherment }, /must have 'digitalSignature'/],
    ['no key usage extension', { uris: [id('a')], noKeyUsage: true }, /must have 'digitalSignature'/],
    ['two URI SANs', { uris: [id('a'), id('admin')] }, /2 URI SANs: an X.509-SVID has exactly one/],
    ['no SAN at all', { noSan: true }, /no URI SAN/],
    ['only a DNS SAN', { dns: ['payments.default.svc'] }, /no URI SAN/],
    ['spiffe:// only in the subject CN', { noSan: true, subject: `CN=${id('a')}` }, /never read from the subject CN/],
    ['a URI SAN that is not a SPIFFE ID', { uris: ['https://payments.example'] }, /not a valid SPIFFE ID: scheme/],
    ['a trust domain ID as a leaf identity', { uris: ['spiffe://weft.local'] }, /path is missing/],
    ['a weak RSA key', { uris: [id('a')], rsaBits: 1024 }, /RSA key of 1024 bits is too weak/],
  ]

  it.each(cases)('rejects %s', async (_name, options, rule) => {
    const bad = await craft(await anchorFor(), options)
    const d = describeCertificate(bad.cert)
    expect(d.svidProblems.join('; ')).toMatch(rule)
    expect(d.svidProblems.length === 0).toBe(false)
  })

  it('rejects an X.509 v1 certificate', async () => {
    const v1 = await asVersion1(await craft(await anchorFor(), { uris: [id('a')] }), await anchorFor())
    const d = describeCertificate(v1)
    expect(d.version).toBe(1)
    expect(d.svidProblems[0]).toBe('X.509 v1 certificate: an SVID must be X.509 v3')
    // Node's own parser takes it as a certificate like any other
    expect(new X509Certificate(v1).subject).toBe('O=weft')
  })

  it('never splits a URI SAN that contains ", URI:" into two identities', async () => {
    const sneaky = `${id('checkout')}, URI:${id('admin')}`
    const bad = await craft(await anchorFor(), { uris: [sneaky] })

    // Node's string form escapes the comma; naive splitting on ", " would find two identities
    expect(new X509Certificate(bad.cert).subjectAltName).toBe(`URI:"${id('checkout')}\\u002c URI:${id('admin')}"`)
    const d = describeCertificate(bad.cert)
    expect(d.uris).toEqual([sneaky])
    expect(d.spiffeId).toBeUndefined()
    expect(d.svidProblems.join()).toMatch(/is not a valid SPIFFE ID: path segment characters/)
  })

  it('reports an unparseable certificate as WEFT_CERTIFICATE_INVALID', () => {
    try {
      describeCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
      expect.unreachable()
    } catch (err) {
      expect(isWeftError(err) && err.code).toBe('WEFT_CERTIFICATE_INVALID')
    }
    expect(() => describeCertificate('hello')).toThrow(/no PEM "CERTIFICATE" block/)
  })
})
