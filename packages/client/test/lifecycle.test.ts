import { weftErrorOf } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, policyFor } from '../../../test/support/servers.js'
import { createMesh } from '../src/index.js'

describe('mesh.install()', () => {
  it("routes Node's own global fetch through the mesh, and the undo function restores it", async () => {
    const payments = await listen((_q, r) => r.end('via mesh'))
    onTestFinished(() => payments.close())
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }) })
    onTestFinished(() => mesh.close())

    const undo = mesh.install()
    const res = await fetch('http://payments/')
    expect(await res.text()).toBe('via mesh')
    undo()

    await expect(fetch('http://payments/', { signal: AbortSignal.timeout(5000) })).rejects.toThrow()
  })

  it('installing twice is harmless and one undo still restores the original', async () => {
    const payments = await listen((_q, r) => r.end('ok'))
    onTestFinished(() => payments.close())
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }) })
    onTestFinished(() => mesh.close())

    const undo = mesh.install()
    const again = mesh.install()
    again()
    expect(await (await fetch('http://payments/')).text()).toBe('ok')
    undo()
    await expect(fetch('http://payments/', { signal: AbortSignal.timeout(5000) })).rejects.toThrow()
  })
})

describe('mesh.update()', () => {
  it('swaps to the new policy and resolves to its version', async () => {
    const v1 = await listen((_q, r) => r.end('v1'))
    const v2 = await listen((_q, r) => r.end('v2'))
    onTestFinished(async () => {
      await Promise.all([v1.close(), v2.close()])
    })
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments: v1 }) })
    onTestFinished(() => mesh.close())
    const before = mesh.policy.version

    const version = await mesh.update(policyFor({ payments: v2 }))

    expect(version).not.toBe(before)
    expect(mesh.policy.version).toBe(version)
    expect(await (await mesh.fetch('http://payments/')).text()).toBe('v2')
  })

  it('rejects an invalid policy with WEFT_POLICY_INVALID and keeps serving the old one', async () => {
    const v1 = await listen((_q, r) => r.end('v1'))
    onTestFinished(() => v1.close())
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments: v1 }) })
    onTestFinished(() => mesh.close())
    const before = mesh.policy.version

    const err = await mesh.update({ apiVersion: 'weft.dev/v1', services: { payments: { retires: 3 } } }).catch((e: unknown) => e)

    expect(weftErrorOf(err)?.code).toBe('WEFT_POLICY_INVALID')
    expect(mesh.policy.version).toBe(before)
    expect(await (await mesh.fetch('http://payments/')).text()).toBe('v1')
  })
})

describe('mesh.close()', () => {
  it('waits for in-flight calls, bodies included, then rejects new calls with WEFT_MESH_CLOSED', async () => {
    let finish: (() => void) | undefined
    const payments = await listen((_q, res) => {
      res.write('first half ')
      finish = () => res.end('second half')
    })
    onTestFinished(() => payments.close())
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }) })

    const res = await request('http://payments/', { dispatcher: mesh.dispatcher })
    let closed = false
    const closing = mesh.close().then(() => {
      closed = true
    })
    await new Promise((r) => setTimeout(r, 30))
    expect(closed).toBe(false)

    const late = await request('http://payments/', { dispatcher: mesh.dispatcher }).catch((e: unknown) => e)
    expect(weftErrorOf(late)?.code).toBe('WEFT_MESH_CLOSED')

    finish?.()
    expect(await res.body.text()).toBe('first half second half')
    await closing
    expect(closed).toBe(true)
  })

  it('cuts calls still running when the drain timeout passes', async () => {
    const payments = await listen((_q, res) => {
      res.write('never finishes')
    })
    onTestFinished(() => payments.close())
    const clock = new ManualClock()
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }), clock, drainTimeout: '5s' })

    const res = await request('http://payments/', { dispatcher: mesh.dispatcher })
    const body = res.body.text().catch((e: unknown) => e)
    let closed = false
    const closing = mesh.close().then(() => {
      closed = true
    })
    await clock.advance('4s')
    expect(closed).toBe(false)
    await clock.advance('1s')
    await closing

    expect(closed).toBe(true)
    expect(await body).toBeInstanceOf(Error)
  })

  it('returns the same promise when called again', async () => {
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({}) })
    expect(mesh.close()).toBe(mesh.close())
    await mesh.close()
  })
})

describe('state across a policy update', () => {
  it('keeps an ejected endpoint ejected: an update does not forgive it', async () => {
    const bad = await listen((_q, res) => {
      res.statusCode = 503
      res.end()
    })
    const good = await listen()
    onTestFinished(async () => {
      await Promise.all([bad.close(), good.close()])
    })
    const service = {
      loadBalancer: 'round-robin',
      retries: { attempts: 1 },
      circuitBreaker: false,
      outlierDetection: { consecutive5xx: 2 },
    }
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments: [bad, good] }, { payments: service }) })
    onTestFinished(() => mesh.close())
    for (let i = 0; i < 6; i++) await (await request('http://payments/', { dispatcher: mesh.dispatcher })).body.dump()
    const ejected = () => mesh.endpoints().payments?.endpoints.find((e) => e.address === bad.address)?.health

    expect(ejected()).toBe('ejected')
    await mesh.update(policyFor({ payments: [bad, good] }, { payments: { ...service, timeout: '3s' } }))

    expect(ejected()).toBe('ejected')
  })
})
