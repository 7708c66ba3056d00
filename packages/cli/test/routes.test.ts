import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { routeRows, runRoutes } from '../src/commands/routes.js'
import { createProgram } from '../src/index.js'
import { parseSamples } from '../src/prom-text.js'
import { adminFor, createMeshMetrics, deadAdminUrl, scriptedRun } from './observe-helpers.js'

describe('weft routes', () => {
  it('is a registered sub-command taking an admin URL', () => {
    const command = createProgram().commands.find((c) => c.name() === 'routes')
    expect(command?.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--json', '--window', '--wide']))
  })

  it('prints the success rate of a scripted run: 4 of 5 calls succeeded, 4 of 6 tries', async () => {
    const meter = createMeshMetrics()
    await scriptedRun(meter)
    const admin = await adminFor(meter)
    const lines: string[] = []

    expect(await runRoutes(admin.url, { wide: true }, (l) => lines.push(l))).toBe(0)

    const [header, row] = (lines[0] as string).split('\n')
    expect(header).toMatch(/^ROUTE\s+SERVICE\s+DIR\s+SUCCESS\s+RPS\s+P50\s+P95\s+P99\s+ACTUAL_SUCCESS\s+ACTUAL_RPS/)
    expect(row).toMatch(/^charge\s+payments\s+out\s+80\.00%\s+\S+rps\s+\S+\s+\S+\s+\S+\s+66\.67%/)
  })

  it('`weft routes <admin-url> -o wide`, as the docs write it, adds the actual columns', async () => {
    const meter = createMeshMetrics()
    await scriptedRun(meter)
    const admin = await adminFor(meter)
    const lines: string[] = []
    const spy = vi.spyOn(console, 'log').mockImplementation((text: string) => lines.push(text))
    onTestFinished(() => spy.mockRestore())

    await createProgram().exitOverride().parseAsync(['node', 'weft', 'routes', admin.url, '-o', 'wide'])

    expect(lines[0]).toMatch(/^ROUTE\s+SERVICE\s+DIR\s+SUCCESS\s+RPS\s+P50\s+P95\s+P99\s+ACTUAL_SUCCESS\s+ACTUAL_RPS/)
  })

  it('gives the same figures as JSON', async () => {
    const meter = createMeshMetrics()
    await scriptedRun(meter)
    const admin = await adminFor(meter)
    const out: string[] = []
    await runRoutes(admin.url, { json: true }, (l) => out.push(l))
    const [route] = JSON.parse(out[0] as string)
    expect(route).toMatchObject({
      direction: 'outbound',
      service: 'payments',
      route: 'charge',
      requests: 5,
      success: 0.8,
      actual: { requests: 6, success: 0.667 },
    })
    expect(route.latencyMs.p50).toBeGreaterThan(0)
  })

  it('measures a window between two scrapes', () => {
    const scrape = (ok: number, failed: number) =>
      parseSamples(
        [
          `weft_requests_total{direction="outbound",service="s",route="r",method="GET",code="200",fate="ok"} ${ok}`,
          `weft_requests_total{direction="outbound",service="s",route="r",method="GET",code="503",fate="error"} ${failed}`,
        ].join('\n'),
      )
    const [row] = routeRows(scrape(110, 10), scrape(20, 0), 10)
    expect(row?.requests).toBe(100)
    expect(row?.success).toBeCloseTo(0.9)
    expect(row?.rps).toBe(10)
  })

  it('fails clearly on something that is not an admin URL', async () => {
    await expect(runRoutes('payments', {}, () => {})).rejects.toThrow(/not a URL: payments/)
  })

  it('an admin URL nobody listens on fails with one line naming it and why, not `fetch failed`', async () => {
    const url = await deadAdminUrl()

    await expect(runRoutes(url, {}, () => {})).rejects.toThrow(`${url} does not answer: ECONNREFUSED`)
  })

  it('--direction other than inbound or outbound is refused, not read as a filter that matches nothing', async () => {
    const meter = createMeshMetrics()
    await scriptedRun(meter)
    const admin = await adminFor(meter)

    await expect(runRoutes(admin.url, { direction: 'out' }, () => {})).rejects.toThrow('--direction takes inbound or outbound, got out')
  })

  it('a URL whose /metrics holds no weft mesh metrics (a control plane, say) is refused, not shown as "no calls measured yet"', async () => {
    const server = createServer((_req, res) => res.end('# TYPE weft_control_plane_watchers gauge\nweft_control_plane_watchers 0\n'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

    await expect(runRoutes(url, {}, () => {})).rejects.toThrow(`${url}/metrics serves no weft mesh metrics`)
  })
})
