import { describe, expect, it } from 'vitest'
import { createEndpointSource, staticSource } from '../src/index.js'

describe('static source', () => {
  it('turns the endpoints of a service policy into core endpoints', () => {
    const source = createEndpointSource({
      name: 'payments',
      discovery: undefined,
      endpoints: [
        { address: '127.0.0.1:8081', host: '127.0.0.1', port: 8081, labels: { version: 'v1' }, weight: 1 },
        { address: '[::1]:8082', host: '::1', port: 8082, labels: {}, weight: 3 },
      ],
    })

    expect(source.current()).toEqual([
      { address: '127.0.0.1:8081', host: '127.0.0.1', port: 8081, labels: { version: 'v1' }, weight: 1 },
      { address: '[::1]:8082', host: '::1', port: 8082, labels: {}, weight: 3 },
    ])
    expect(Object.isFrozen(source.current())).toBe(true)
  })

  it('keeps handing out the same array, since nothing changes', () => {
    const source = staticSource(['127.0.0.1:1', '127.0.0.1:2'])
    expect(source.current()).toBe(source.current())
    expect(source.current().map((e) => e.weight)).toEqual([1, 1])
  })

  it('keeps the first of two endpoints with the same address: the address keys per-endpoint state', () => {
    const source = staticSource([
      { address: '127.0.0.1:1', labels: { a: '1' } },
      { address: '127.0.0.1:1', labels: { a: '2' } },
    ])
    expect(source.current()).toHaveLength(1)
    expect(source.current()[0]?.labels).toEqual({ a: '1' })
  })

  it('refuses an address that is not host:port', () => {
    for (const bad of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'a b:80', ':80', '[::1:80']) {
      expect(() => staticSource([bad]), bad).toThrow(/expected host:port/)
    }
  })
})
