import type { TapEvent } from '@weft/metrics'
import { describe, expect, it } from 'vitest'
import { formatTapLine, runTap } from '../src/commands/tap.js'
import { runTop, TopTable } from '../src/commands/top.js'
import { adminFor, createMeshMetrics, deadAdminUrl } from './observe-helpers.js'

const event = (patch: Partial<TapEvent> = {}): TapEvent => ({
  time: Date.parse('2026-11-22T10:00:00.123Z'),
  direction: 'outbound',
  service: 'payments',
  route: 'charge',
  method: 'POST',
  authority: 'payments',
  path: '/charge',
  status: 200,
  latencyMs: 12.4,
  attempts: 2,
  fate: 'ok_after_retry',
  ...patch,
})

/** Publishes `events` once `/tap` has a reader, the way a running mesh would. */
async function publishWhenListening(meter: ReturnType<typeof createMeshMetrics>, events: TapEvent[]) {
  for (let i = 0; i < 400 && meter.tap.subscribers === 0; i++) await new Promise((r) => setTimeout(r, 5))
  for (const e of events) meter.tap.publish(e)
}

describe('weft tap', () => {
  it('prints one line per call, like linkerd tap', () => {
    expect(formatTapLine(event())).toBe(
      '10:00:00.123 out payments POST payments/charge :status=200 latency=12ms route=charge attempts=2 fate=ok_after_retry',
    )
    expect(formatTapLine(event({ status: 0, fate: 'deadline', error: 'WEFT_DEADLINE_EXCEEDED' }))).toContain(
      ':status=- latency=12ms route=charge attempts=2 fate=deadline error=WEFT_DEADLINE_EXCEEDED',
    )
  })

  it('reads live calls from an admin endpoint, filtered, and stops after --count', async () => {
    const meter = createMeshMetrics()
    const admin = await adminFor(meter)
    const lines: string[] = []
    const done = runTap(admin.url, { count: '2', path: '/charge' }, (l) => lines.push(l))
    await publishWhenListening(meter, [event(), event({ path: '/refund' }), event({ status: 503, fate: 'error' })])
    expect(await done).toBe(0)
    expect(lines).toHaveLength(2)
    expect(lines[0]).toContain(':status=200')
    expect(lines[1]).toContain(':status=503')
  })

  it('prints JSON lines with --json', async () => {
    const meter = createMeshMetrics()
    const admin = await adminFor(meter)
    const lines: string[] = []
    const done = runTap(admin.url, { count: '1', json: true }, (l) => lines.push(l))
    await publishWhenListening(meter, [event()])
    await done
    expect(JSON.parse(lines[0] as string)).toMatchObject({ service: 'payments', status: 200, fate: 'ok_after_retry' })
  })
})

describe('weft top', () => {
  it('ranks paths by count, with success and best, last and worst latency', () => {
    const top = new TopTable()
    top.add(event({ path: '/a?x=1', latencyMs: 5 }))
    top.add(event({ path: '/a?x=2', latencyMs: 1, fate: 'error' }))
    top.add(event({ path: '/b', latencyMs: 3 }))
    expect(top.top(10)).toEqual([
      expect.objectContaining({ path: '/a', count: 2, success: 0.5, bestMs: 1, lastMs: 1, worstMs: 5 }),
      expect.objectContaining({ path: '/b', count: 1, success: 1 }),
    ])
    expect(top.render(10).split('\n')[0]).toMatch(/^DIR\s+SERVICE\s+METHOD\s+PATH\s+COUNT\s+SUCCESS\s+BEST\s+LAST\s+WORST$/)
  })

  it('shows the table from a live admin endpoint until --duration', async () => {
    const meter = createMeshMetrics()
    const admin = await adminFor(meter)
    const chunks: string[] = []
    const stop = new AbortController()
    const done = runTop(admin.url, { json: true, interval: '0.05' }, (t) => chunks.push(t), stop.signal)
    await publishWhenListening(meter, [event(), event(), event({ path: '/refund' })])
    await new Promise((r) => setTimeout(r, 100))
    stop.abort()
    expect(await done).toBe(0)
    const last = JSON.parse((chunks.at(-1) as string).trim())
    expect(last.rows[0]).toMatchObject({ path: '/charge', count: 2 })
    expect(last.rows[1]).toMatchObject({ path: '/refund', count: 1 })
  })

  it('--rows that is not a number is refused, not an empty table', async () => {
    const admin = await adminFor(createMeshMetrics())

    await expect(runTop(admin.url, { rows: 'abc', duration: '1' }, () => {})).rejects.toThrow('--rows must be a whole number ≥ 1, got abc')
  })
})

// Both read the admin endpoint's /tap, and refuse what they cannot read the same way.
describe.each([
  { command: 'weft tap', run: runTap },
  { command: 'weft top', run: runTop },
])('$command', ({ run }) => {
  it('an admin URL nobody listens on fails with one line naming it and why, not `fetch failed`', async () => {
    const url = await deadAdminUrl()

    await expect(run(url, {}, () => {})).rejects.toThrow(`${url} does not answer: ECONNREFUSED`)
  })

  it('--direction other than inbound or outbound is refused, not streamed unfiltered', async () => {
    const admin = await adminFor(createMeshMetrics())

    await expect(run(admin.url, { direction: 'sideways' }, () => {})).rejects.toThrow('--direction takes inbound or outbound, got sideways')
  })

  it('--duration that is not a positive number of seconds is refused, not run for a millisecond', async () => {
    const admin = await adminFor(createMeshMetrics())

    await expect(run(admin.url, { duration: 'abc' }, () => {})).rejects.toThrow('--duration must be a positive number of seconds, got abc')
  })
})
