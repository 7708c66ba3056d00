import { weftErrorOf } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
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

describe('the retry budget across a policy update', () => {
  /** An upstream that always answers 503, a mesh on a manual clock (nothing waits on it: backoff is 0), and its policy. */
  async function storm(budgetExtra: Record<string, unknown> = {}) {
    const payments = await listen((_req, res) => {
      res.statusCode = 503
      res.end()
    })
    onTestFinished(() => payments.close())
    const policy = (timeout: string, budget: Record<string, unknown>) =>
      policyFor(
        { payments },
        {
          payments: {
            timeout,
            circuitBreaker: false,
            outlierDetection: false,
            retries: {
              attempts: 3,
              on: [503],
              backoff: { base: 0, max: 0 },
              budget: { ratio: 0.2, minPerSecond: 1, window: '10s', ...budget },
            },
          },
        },
      )
    const mesh = await createMesh({ service: 'checkout', policy: policy('5s', {}), clock: new ManualClock() })
    onTestFinished(() => mesh.close())
    const send = async (n: number) => {
      const before = payments.requests.length
      for (let i = 0; i < n; i++) await (await mesh.fetch('http://payments/')).text()
      return payments.requests.length - before
    }
    return { mesh, send, update: (timeout: string) => mesh.update(policy(timeout, budgetExtra)) }
  }

  it('a budget a storm spent stays spent after an update that leaves its options alone', async () => {
    const { send, update } = await storm()
    // 50 calls: 50 first tries, and retries from the reserve (1/s × 10 s) plus 20 % of the calls
    expect(await send(50)).toBe(50 + 10 + 10)

    await update('4s')

    // no fresh reserve: only the 20 % the new calls earn
    expect(await send(50)).toBe(50 + 10)
  })

  it('an update that changes the budget’s options starts a new budget', async () => {
    const { send, update } = await storm({ minPerSecond: 2 })
    await send(50)

    await update('4s')

    expect(await send(50)).toBe(50 + 20 + 10)
  })
})
