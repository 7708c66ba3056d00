import { AsyncLocalStorage } from 'node:async_hooks'
import { describe, expect, it } from 'vitest'
import { type DemoParts, runDemo } from '../src/commands/demo.js'
import { createProgram } from '../src/index.js'

async function demo(flags: { calls?: string; json?: boolean }, parts?: DemoParts) {
  const lines: string[] = []
  const code = await runDemo(flags, (l) => lines.push(l), parts)
  return { code, lines }
}

describe('weft demo', () => {
  it('is a registered sub-command with --calls and --json', () => {
    const command = createProgram().commands.find((c) => c.name() === 'demo')
    expect(command?.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--calls', '--json']))
  })

  it('makes four calls by default, exits 0 and says who answered each', async () => {
    const { code, lines } = await demo({})

    expect(code).toBe(0)
    const calls = lines.filter((l) => /^call \d+: /.test(l))
    expect(calls).toHaveLength(4)
    for (const line of calls) expect(line).toMatch(/^call \d+: 200; payments v[12] \(127\.0\.0\.1:\d+\) answered; x-weft-timeout \d+ms/)
    expect(lines.at(-1)).toMatch(/^4\/4 calls succeeded; payments v[12] answered 2, payments v[12] answered 2$/)
  })

  it('balances payments round robin over both instances, each on a port of its own', async () => {
    const { lines } = await demo({ calls: '6', json: true })
    const result = JSON.parse(lines[0] as string)

    expect(result.calls).toHaveLength(6)
    const answered = result.calls.map((c: { address: string }) => c.address)
    expect(new Set(answered)).toEqual(new Set(result.services.payments))
    expect(answered.filter((a: string) => a === result.services.payments[0])).toHaveLength(3)
    expect(result.services.payments[0]).not.toBe(result.services.payments[1])
  })

  it('carries one trace id per call through every hop, and a fresh one for each call', async () => {
    const { lines } = await demo({ calls: '3', json: true })
    const { calls } = JSON.parse(lines[0] as string)

    for (const c of calls) {
      expect(c.traceId.checkout).toMatch(/^[0-9a-f]{32}$/)
      expect(c.traceId.payments).toBe(c.traceId.checkout)
    }
    expect(new Set(calls.map((c: { traceId: { checkout: string } }) => c.traceId.checkout)).size).toBe(3)
  })

  it("gives payments what is left of checkout's deadline, as x-weft-timeout", async () => {
    const { lines } = await demo({ calls: '2', json: true })
    const { calls } = JSON.parse(lines[0] as string)

    for (const c of calls) {
      expect(c.timeoutMs.checkout).toBeGreaterThan(1900)
      expect(c.timeoutMs.checkout).toBeLessThanOrEqual(2000)
      expect(c.timeoutMs.payments).toBeLessThan(c.timeoutMs.checkout)
      expect(c.timeoutMs.payments).toBeGreaterThan(0)
    }
  })

  it('exits 1 when payments does not receive the trace of the call checkout is serving', async () => {
    // captured here, outside any call: a job queue started at boot sends from such a context
    const outsideAnyCall = AsyncLocalStorage.snapshot()
    const charge = () => outsideAnyCall(() => fetch('http://payments/charge', { method: 'POST' }))

    const { code, lines } = await demo({ calls: '2' }, { charge })

    expect(code).toBe(1)
    for (const line of lines.filter((l) => /^call \d+: /.test(l))) {
      expect(line).toMatch(/^call \d+: 200; payments v[12] .* answered; .*; trace [0-9a-f]{32} at checkout, [0-9a-f]{32} at payments$/)
    }
    expect(lines).toContain('trace: 0/2 calls carried one trace id through both hops, with no header copied by hand')
    expect(lines.at(-1)).toMatch(/^0\/2 calls succeeded; /)
  })

  it('exits 1 when a call fails, and says why', async () => {
    const charge = () => fetch('http://payments/charge', { method: 'POST', signal: AbortSignal.abort() })

    const { code, lines } = await demo({ calls: '1', json: true }, { charge })

    expect(code).toBe(1)
    const result = JSON.parse(lines[0] as string)
    expect(result.ok).toBe(false)
    expect(result.calls[0]).toMatchObject({ ok: false, status: 502, error: 'This operation was aborted' })
  })

  it('refuses a --calls that is not a whole number of at least 1', async () => {
    await expect(demo({ calls: '0' })).rejects.toThrow('--calls must be a whole number ≥ 1, got 0')
    await expect(demo({ calls: 'many' })).rejects.toThrow('got many')
  })
})
