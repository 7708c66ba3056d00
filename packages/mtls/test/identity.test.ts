import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isWeftError, type WeftError } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createIdentity, createIdentitySource, writeIdentity } from '../src/index.js'
import { anchorFor, craft, id, nextEvent, svid } from './helpers.js'

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'weft-identity-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isWeftError(err) ? `${err.code}: ${err.message}` : String(err)
  }
  return undefined
}

describe('an identity', () => {
  it('takes its SPIFFE ID and trust domain from the certificate', async () => {
    const issued = await svid('checkout')
    const identity = createIdentity(issued)
    expect(identity.spiffeId).toBe(id('checkout'))
    expect(identity.trustDomain).toBe('weft.local')
    expect(identity.serialNumber).toBe(issued.serialNumber)
  })

  it('refuses a key that does not match the certificate, naming the file', async () => {
    const a = await svid('checkout')
    const b = await svid('checkout')
    const files = { cert: '/etc/weft/cert.pem', key: '/etc/weft/key.pem', bundle: '/etc/weft/bundle.pem' }
    expect(codeOf(() => createIdentity({ ...a, key: b.key }, { files }))).toMatch(
      /^WEFT_CERTIFICATE_INVALID: \/etc\/weft\/key.pem does not match the certificate in \/etc\/weft\/cert.pem/,
    )
  })

  it('refuses an expired or not yet valid certificate', async () => {
    const expired = await svid('checkout', { notBefore: new Date(Date.now() - 7_200_000), lifetime: '1h' })
    expect(codeOf(() => createIdentity(expired))).toMatch(/WEFT_CERTIFICATE_INVALID: cert has expired/)
    const early = await svid('checkout', { notBefore: new Date(Date.now() + 3_600_000) })
    expect(codeOf(() => createIdentity(early))).toMatch(/WEFT_CERTIFICATE_INVALID: cert is not yet valid/)
  })

  it('refuses a certificate that does not chain to the bundle', async () => {
    const mine = await svid('checkout')
    const theirs = await svid('checkout', { trustDomain: 'other.local' })
    expect(codeOf(() => createIdentity({ ...mine, bundle: theirs.bundle }))).toMatch(/does not chain to any certificate in bundle/)
  })

  it('refuses a leaf that breaks the SVID rules', async () => {
    const bad = await craft(await anchorFor(), { uris: [id('a')], ca: true })
    expect(codeOf(() => createIdentity(bad))).toMatch(/is not a valid X.509-SVID: leaf certificate must not have CA flag/)
  })

  it('refuses garbage PEM', async () => {
    const good = await svid('checkout')
    expect(codeOf(() => createIdentity({ ...good, cert: 'nope' }))).toMatch(/cert: no PEM "CERTIFICATE" block/)
    expect(codeOf(() => createIdentity({ ...good, key: 'nope' }))).toMatch(/key: not a readable private key/)
  })
})

describe('an identity directory', () => {
  it('loads cert.pem, key.pem and bundle.pem', async () => {
    const dir = await tempDir()
    await writeIdentity(dir, await svid('checkout'))
    const source = await createIdentitySource({ dir }, { watch: false })
    expect(source.current().spiffeId).toBe(id('checkout'))
  })

  it('names the missing or mismatched file at load', async () => {
    const dir = await tempDir()
    await expect(createIdentitySource({ dir })).rejects.toThrow(/cert.pem: cannot read: ENOENT/)
    const a = await svid('checkout')
    await writeIdentity(dir, { ...a, key: (await svid('checkout')).key })
    await expect(createIdentitySource({ dir })).rejects.toThrow(/key.pem does not match the certificate in .*cert.pem/)
  })

  it('applies a new certificate on reload and tells its listeners', async () => {
    const dir = await tempDir()
    const first = await svid('checkout')
    await writeIdentity(dir, first)
    const source = await createIdentitySource({ dir }, { watch: false })
    const changes: string[] = []
    source.onChange((next, previous) => changes.push(`${previous.serialNumber} -> ${next.serialNumber}`))

    expect(await source.reload()).toBe(false)
    const second = await svid('checkout')
    await writeIdentity(dir, second)
    expect(await source.reload()).toBe(true)

    expect(source.current().serialNumber).toBe(second.serialNumber)
    expect(changes).toEqual([`${first.serialNumber} -> ${second.serialNumber}`])
  })

  it.each([
    [
      'an expired certificate',
      async () => svid('checkout', { notBefore: new Date(Date.now() - 7_200_000), lifetime: '1h' }),
      /has expired/,
    ],
    ['a mismatched key', async () => ({ ...(await svid('checkout')), key: (await svid('checkout')).key }), /does not match/],
    [
      'a certificate from another anchor',
      async () => ({ ...(await svid('checkout', { trustDomain: 'evil.local' })), bundle: (await anchorFor()).cert }),
      /does not chain/,
    ],
    ['a CA as leaf', async () => craft(await anchorFor(), { uris: [id('checkout')], ca: true }), /CA flag/],
    [
      'another identity',
      async () => svid('payments'),
      /names spiffe:\/\/weft.local\/ns\/default\/sa\/payments but this process is spiffe:\/\/weft.local\/ns\/default\/sa\/checkout/,
    ],
  ])('never applies a rotation to %s: the old identity stays and the failure is reported', async (_name, make, rule) => {
    const dir = await tempDir()
    const good = await svid('checkout')
    await writeIdentity(dir, good)
    const source = await createIdentitySource({ dir }, { watch: false })
    await writeIdentity(dir, await make())

    await expect(source.reload()).rejects.toThrow(rule)
    expect(source.current().serialNumber).toBe(good.serialNumber)
  })

  it('watches the directory: rewriting the files rotates the identity after the debounce', async () => {
    const dir = await tempDir()
    await writeIdentity(dir, await svid('checkout'))
    const clock = new ManualClock(Date.now())
    const errors: WeftError[] = []
    const source = await createIdentitySource({ dir }, { clock, debounce: '100ms', onError: (e) => errors.push(e) })
    onTestFinished(() => source.close())

    const next = await svid('checkout')
    const changed = nextEvent<unknown>((fn) => source.onChange(fn))
    await writeIdentity(dir, next)
    await waitForTimer(clock)
    await clock.advance('100ms')
    await changed

    expect(source.current().serialNumber).toBe(next.serialNumber)
    expect(errors).toEqual([])
  })

  it('reports a half-written set through onError and keeps serving the old identity', async () => {
    const dir = await tempDir()
    const good = await svid('checkout')
    await writeIdentity(dir, good)
    const clock = new ManualClock(Date.now())
    let report: (err: WeftError) => void = () => {}
    const reported = new Promise<WeftError>((resolve) => (report = resolve))
    const source = await createIdentitySource({ dir }, { clock, debounce: '100ms', onError: (err) => report(err) })
    onTestFinished(() => source.close())

    await writeFile(join(dir, 'key.pem'), (await svid('checkout')).key)
    await waitForTimer(clock)
    await clock.advance('100ms')

    expect((await reported).message).toMatch(/key.pem does not match/)
    expect(source.current().serialNumber).toBe(good.serialNumber)
  })

  it('takes PEM strings, and update() replaces them only with a valid set', async () => {
    const first = await svid('checkout')
    const source = await createIdentitySource(first)
    const second = await svid('checkout')
    expect(source.update(second).serialNumber).toBe(second.serialNumber)
    const expired = await svid('checkout', { notBefore: new Date(Date.now() - 7_200_000), lifetime: '1h' })
    expect(() => source.update(expired)).toThrow(/has expired/)
    const other = await svid('payments')
    expect(() => source.update(other)).toThrow(/an identity does not change at runtime/)
    expect(source.current().serialNumber).toBe(second.serialNumber)
  })
})

/** Waits until the file watcher has seen an event and armed the debounce timer (an fs event, not a sleep). */
async function waitForTimer(clock: ManualClock) {
  for (let i = 0; i < 400 && clock.pendingTimers() === 0; i++) await new Promise((r) => setTimeout(r, 5))
  expect(clock.pendingTimers()).toBeGreaterThan(0)
}
