import type { Call, Handler, Reply } from '@weft/core'
import { isWeftError } from '@weft/core'
import { testCall } from '@weft/core/testing'
import { staticSource } from '@weft/discovery'
import { describe, expect, it } from 'vitest'
import { balancer, createBalancer } from '../src/index.js'

const call = testCall

const ok = (status = 200): Reply => ({ status, headers: {}, body: undefined })

/** The network stand-in: records which endpoint each call reached. */
function upstream() {
  const seen: Call[] = []
  const handler: Handler = async (c) => {
    seen.push(c)
    return ok()
  }
  return { seen, handler }
}

describe('balancer', () => {
  it('round robin visits every endpoint in turn', async () => {
    const net = upstream()
    const handler = balancer({
      source: staticSource(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']),
      loadBalancer: { type: 'round-robin' },
    })(net.handler)
    for (let i = 0; i < 6; i++) await handler(call())
    const counts = new Map<string, number>()
    for (const c of net.seen) counts.set(c.endpoint?.address ?? '', (counts.get(c.endpoint?.address ?? '') ?? 0) + 1)
    expect([...counts.values()]).toEqual([2, 2, 2])
    expect(net.seen.map((c) => c.tried)).toEqual(net.seen.map((c) => [c.endpoint?.address]))
  })

  it('sends a call with a subset only to endpoints whose labels match', async () => {
    const net = upstream()
    const source = staticSource([
      { address: '10.0.0.1:80', labels: { version: 'v1' } },
      { address: '10.0.0.2:80', labels: { version: 'v2' } },
    ])
    const handler = balancer({ source, subsets: { v2: { version: 'v2' } } })(net.handler)
    for (let i = 0; i < 5; i++) await handler(call({ subset: 'v2' }))
    expect(new Set(net.seen.map((c) => c.endpoint?.address))).toEqual(new Set(['10.0.0.2:80']))
  })

  it('a retry goes to another endpoint than the one it failed on', async () => {
    const net = upstream()
    const handler = balancer({ source: staticSource(['10.0.0.1:80', '10.0.0.2:80']) })(net.handler)
    for (let i = 0; i < 20; i++) await handler(call({ attempt: 2, tried: ['10.0.0.1:80'] }))
    expect(new Set(net.seen.map((c) => c.endpoint?.address))).toEqual(new Set(['10.0.0.2:80']))
    expect(net.seen[0]?.tried).toEqual(['10.0.0.1:80', '10.0.0.2:80'])
  })

  it('fails with WEFT_NO_HEALTHY_ENDPOINT when the subset has no endpoint', async () => {
    const net = upstream()
    const handler = balancer({ source: staticSource(['10.0.0.1:80']), subsets: { v9: { version: 'v9' } } })(net.handler)
    const err = await handler(call({ subset: 'v9' })).catch((e) => e)
    expect(isWeftError(err) && err.code).toBe('WEFT_NO_HEALTHY_ENDPOINT')
    expect(net.seen).toHaveLength(0)
  })
})

describe('balancer and a discovery source', () => {
  it('a call made before the first DNS or file answer waits for it instead of failing', async () => {
    const net = upstream()
    let answer: () => void = () => {}
    const endpoints = staticSource(['10.0.0.1:80']).current()
    let list: typeof endpoints = []
    const listeners: ((e: typeof endpoints) => void)[] = []
    const source = {
      current: () => list,
      subscribe: (l: (e: typeof endpoints) => void) => {
        listeners.push(l)
        return () => {}
      },
      close() {},
      ready: () =>
        new Promise<void>((r) => {
          answer = r
        }),
    }
    const handler = balancer({ source })(net.handler)
    const pending = handler(call())
    list = endpoints
    for (const l of listeners) l(list)
    answer()
    await pending
    expect(net.seen[0]?.endpoint?.address).toBe('10.0.0.1:80')
  })
})

describe('balancer options and state', () => {
  it('refuses an unknown picker or a bad number', () => {
    const source = staticSource(['10.0.0.1:80'])
    for (const loadBalancer of [{ type: 'random' }, { decay: 0 }, { defaultRtt: -1 }, { activeRequestBias: -1 }, { slowStartWindow: 0 }]) {
      expect(() => balancer({ source, loadBalancer: loadBalancer as never }), JSON.stringify(loadBalancer)).toThrow(
        expect.objectContaining({ code: 'WEFT_INVALID_ARGUMENT' }),
      )
    }
  })

  it('has a snapshot an operator can read and that survives JSON', async () => {
    const net = upstream()
    const b = createBalancer({
      source: staticSource([
        { address: '10.0.0.1:80', labels: { version: 'v1' } },
        { address: '10.0.0.2:80', labels: { version: 'v2' }, weight: 2 },
      ]),
      subsets: { v2: { version: 'v2' } },
    })
    await b.middleware(net.handler)(call({ subset: 'v2' }))
    const snap = b.snapshot()
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap)
    expect(snap.picker).toBe('ewma')
    expect(snap.endpoints[1]).toMatchObject({
      address: '10.0.0.2:80',
      labels: { version: 'v2' },
      weight: 2,
      health: 'healthy',
      inFlight: 0,
      requests: 1,
      failures: 0,
      subsets: ['v2'],
    })
    expect(snap.pools).toEqual([
      { subset: undefined, endpoints: 2, healthy: 2, panic: false },
      { subset: 'v2', endpoints: 1, healthy: 1, panic: false },
    ])
  })

  it('pick() says where a call would go without sending it', () => {
    const b = createBalancer({ source: staticSource(['10.0.0.1:80']) })
    expect(b.pick(call())?.address).toBe('10.0.0.1:80')
    expect(b.pick(call({ subset: 'nope' }))).toBeUndefined()
  })
})
