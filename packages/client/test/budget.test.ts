import { weftErrorOf } from '@weft/core'
import { describe, expect, it, onTestFinished } from 'vitest'
import { listen, policyFor } from '../../../test/support/servers.js'
import { createMesh } from '../src/index.js'

describe("a caller's own x-weft-timeout", () => {
  it('bounds that one call: a slow upstream fails with WEFT_DEADLINE_EXCEEDED once the budget is spent', async () => {
    const payments = await listen(() => {
      /* never answers */
    })
    onTestFinished(() => payments.close())
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }) })
    onTestFinished(() => mesh.close())

    const started = performance.now()
    const err = await mesh.fetch('http://payments/slow', { headers: { 'x-weft-timeout': '150' } }).catch((e: unknown) => e)
    const took = performance.now() - started

    expect(weftErrorOf(err)?.code).toBe('WEFT_DEADLINE_EXCEEDED')
    expect(took).toBeGreaterThanOrEqual(140)
    expect(took).toBeLessThan(2000)
  })

  it('reaches the upstream as the remaining budget, never more than the caller gave', async () => {
    const payments = await listen((_req, res) => res.end())
    onTestFinished(() => payments.close())
    const mesh = await createMesh({ service: 'checkout', policy: policyFor({ payments }) })
    onTestFinished(() => mesh.close())

    await (await mesh.fetch('http://payments/', { headers: { 'x-weft-timeout': '5000' } })).text()

    const seen = Number(payments.requests[0]?.headers['x-weft-timeout'])
    expect(seen).toBeGreaterThan(4000)
    expect(seen).toBeLessThanOrEqual(5000)
  })
})
