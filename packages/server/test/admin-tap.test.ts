import net from 'node:net'
import { createMeshMetrics, type TapEvent } from '@weft/metrics'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAdminServer } from '../src/index.js'

function event(i: number, patch: Partial<TapEvent> = {}): TapEvent {
  return {
    time: Date.now(),
    direction: 'outbound',
    service: 'payments',
    route: 'charge',
    method: 'POST',
    authority: 'payments',
    path: `/charge/${i}?${'x'.repeat(200)}`,
    status: 200,
    latencyMs: 1.5,
    attempts: 1,
    fate: 'ok',
    ...patch,
  }
}

async function start(options = {}) {
  const meter = createMeshMetrics()
  const server = await createAdminServer(
    { registry: meter.registry, tap: meter.tap, config: () => ({}), stack: () => ({}), endpoints: () => ({}) },
    { port: 0, ...options },
  )
  onTestFinished(() => server.close())
  return { meter, server }
}

/** Opens `/tap` over a raw socket; the reader decides whether it ever reads. */
async function openTap(url: string, query = '', read = true): Promise<{ socket: net.Socket; text: () => string }> {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname)
  let text = ''
  if (read) socket.on('data', (c) => (text += c.toString('utf8')))
  else socket.pause()
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write(`GET /tap${query} HTTP/1.1\r\nhost: admin\r\n\r\n`)
  onTestFinished(() => {
    socket.destroy()
  })
  return { socket, text: () => text }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

async function until(check: () => boolean) {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
  expect(check()).toBe(true)
}

describe('/tap', () => {
  it('streams call summaries as server-sent events', async () => {
    const { meter, server } = await start()
    const reader = await openTap(server.url)
    await until(() => server.tapStreams().length === 1)
    meter.tap.publish(event(1))
    await until(() => reader.text().includes('data: {'))
    expect(reader.text()).toContain('content-type: text/event-stream')
    const line = reader
      .text()
      .split('\n')
      .find((l) => l.startsWith('data: ')) as string
    expect(JSON.parse(line.slice(6))).toMatchObject({ service: 'payments', route: 'charge', status: 200, fate: 'ok' })
  })

  it('sends only what the filter asks for', async () => {
    const { meter, server } = await start()
    const reader = await openTap(server.url, '?service=orders&path=/v2')
    await until(() => server.tapStreams().length === 1)
    meter.tap.publish(event(1))
    meter.tap.publish(event(2, { service: 'orders', path: '/v1/x' }))
    meter.tap.publish(event(3, { service: 'orders', path: '/v2/y' }))
    await until(() => reader.text().includes('/v2/y'))
    expect(reader.text()).not.toContain('/charge/')
    expect(reader.text()).not.toContain('/v1/x')
  })

  it('with a reader that never reads, holds at most its buffer and a socket’s worth of bytes, and counts what it drops', async () => {
    const capacity = 64
    const socketBuffer = 65_536 // a response's high-water mark (Node ≥ 22): past it weft stops writing
    const { meter, server } = await start({ tapCapacity: capacity })
    await openTap(server.url, '', false)
    await until(() => server.tapStreams().length === 1)

    const published = 100_000 // about 27 MB of events if they were all kept
    for (let i = 0; i < published; i++) {
      meter.tap.publish(event(i))
      if (i % 500 === 0) await tick()
    }
    await tick()

    const [stream] = server.tapStreams()
    expect(stream?.buffered).toBeLessThanOrEqual(capacity)
    expect(stream?.queuedBytes).toBeGreaterThan(0) // the reader really stalled the socket
    expect(stream?.queuedBytes).toBeLessThan(socketBuffer + 1024)
    expect(stream?.dropped).toBeGreaterThan(published * 0.9)
    expect(stream?.dropped).toBeLessThan(published)
  })

  it('tells a slow reader how many events it lost', async () => {
    const { meter, server } = await start({ tapCapacity: 4 })
    const reader = await openTap(server.url)
    await until(() => server.tapStreams().length === 1)
    for (let i = 0; i < 10; i++) meter.tap.publish(event(i))
    await until(() => reader.text().includes('event: dropped'))
    expect(reader.text()).toContain('data: {"dropped":6}')
  })

  it('unsubscribes when the reader goes away', async () => {
    const { meter, server } = await start()
    const reader = await openTap(server.url)
    await until(() => meter.tap.subscribers === 1)
    reader.socket.destroy()
    await until(() => meter.tap.subscribers === 0)
    expect(server.tapStreams()).toHaveLength(0)
  })

  it('answers 400 to a direction other than inbound or outbound, rather than streaming every call', async () => {
    const { meter, server } = await start()

    const res = await fetch(`${server.url}/tap?direction=sideways`)

    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'direction must be inbound or outbound, got "sideways"' })
    expect(meter.tap.subscribers).toBe(0)
  })
})
