import type { Endpoint } from '@weft/core'
import { ManualClock } from '@weft/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createEndpointSource, dnsSource } from '../src/index.js'
import { type Dnsmasq, startDnsmasq } from './dnsmasq.js'

const running: Dnsmasq[] = []
const closers: (() => void)[] = []
afterEach(async () => {
  for (const c of closers.splice(0)) c()
  await Promise.all(running.splice(0).map((d) => d.stop()))
})

async function dnsmasq(hosts: string, extra: string[] = []): Promise<Dnsmasq> {
  const d = await startDnsmasq({ hosts, ttl: 5, extra })
  running.push(d)
  return d
}

const addresses = (list: readonly Endpoint[]) => list.map((e) => e.address).sort()
const nextChange = (source: { subscribe(l: (e: readonly Endpoint[]) => void): () => void }) =>
  new Promise<readonly Endpoint[]>((resolve) => {
    const off = source.subscribe((e) => {
      off()
      resolve(e)
    })
  })

describe('DNS discovery (against a real dnsmasq on loopback)', () => {
  it('turns A records into endpoints on the given port', async () => {
    const dns = await dnsmasq('127.0.0.11 payments.test\n127.0.0.12 payments.test\n')
    const source = dnsSource({ name: 'payments.test', port: 8080, resolver: dns.address, clock: new ManualClock() })
    closers.push(source.close)
    await source.ready()
    expect(addresses(source.current())).toEqual(['127.0.0.11:8080', '127.0.0.12:8080'])
    expect(source.current()[0]).toMatchObject({ host: '127.0.0.11', port: 8080, labels: {}, weight: 1 })
  })

  it('picks up a record change once its TTL has passed, not before', async () => {
    const clock = new ManualClock()
    const dns = await dnsmasq('127.0.0.11 payments.test\n')
    const source = dnsSource({ name: 'payments.test', port: 8080, resolver: dns.address, clock })
    closers.push(source.close)
    await source.ready()
    expect(addresses(source.current())).toEqual(['127.0.0.11:8080'])

    await dns.setHosts('127.0.0.11 payments.test\n127.0.0.13 payments.test\n')
    await clock.advance('4s') // TTL is 5 s
    expect(addresses(source.current())).toEqual(['127.0.0.11:8080'])

    const changed = nextChange(source)
    await clock.advance('1s')
    expect(addresses(await changed)).toEqual(['127.0.0.11:8080', '127.0.0.13:8080'])
  })

  it('keeps the last good answer when the resolver fails, and says why', async () => {
    const clock = new ManualClock()
    const dns = await dnsmasq('127.0.0.11 payments.test\n')
    const errors: Error[] = []
    let failed: () => void = () => {}
    const failure = new Promise<void>((r) => {
      failed = r
    })
    const source = dnsSource({
      name: 'payments.test',
      port: 8080,
      resolver: dns.address,
      clock,
      timeout: 200,
      onError: (err) => {
        errors.push(err)
        failed()
      },
    })
    closers.push(source.close)
    await source.ready()

    await dns.stop()
    await clock.advance('5s')
    await failure
    expect(addresses(source.current())).toEqual(['127.0.0.11:8080'])
    expect(source.lastError()?.message).toMatch(/^dns discovery of payments\.test \(A\) failed with \w+; keeping the last good answer$/)
  })

  it('keeps the last good answer when the name disappears', async () => {
    const clock = new ManualClock()
    const dns = await dnsmasq('127.0.0.11 payments.test\n')
    let failed: () => void = () => {}
    const failure = new Promise<void>((r) => {
      failed = r
    })
    const source = dnsSource({ name: 'payments.test', port: 8080, resolver: dns.address, clock, onError: () => failed() })
    closers.push(source.close)
    await source.ready()
    await dns.setHosts('127.0.0.99 other.test\n')
    await clock.advance('5s')
    await failure
    expect(addresses(source.current())).toEqual(['127.0.0.11:8080'])
  })

  it('reads AAAA records, with the address in brackets', async () => {
    const dns = await dnsmasq('::1 payments.test\n')
    const source = dnsSource({ name: 'payments.test', type: 'AAAA', port: 8080, resolver: dns.address, clock: new ManualClock() })
    closers.push(source.close)
    await source.ready()
    expect(source.current()).toEqual([{ address: '[::1]:8080', host: '::1', port: 8080, labels: {}, weight: 1 }])
  })

  it('reads SRV records: the most preferred priority only, port and weight from the record', async () => {
    const dns = await dnsmasq('127.0.0.21 node1.test\n127.0.0.22 node2.test\n127.0.0.23 backup.test\n', [
      '--srv-host=_http._tcp.payments.test,node1.test,8081,0,10',
      '--srv-host=_http._tcp.payments.test,node2.test,8082,0,30',
      '--srv-host=_http._tcp.payments.test,backup.test,8083,1,10',
    ])
    const source = dnsSource({ name: '_http._tcp.payments.test', type: 'SRV', resolver: dns.address, clock: new ManualClock() })
    closers.push(source.close)
    await source.ready()
    expect([...source.current()].sort((a, b) => a.port - b.port)).toEqual([
      { address: '127.0.0.21:8081', host: '127.0.0.21', port: 8081, labels: {}, weight: 10 },
      { address: '127.0.0.22:8082', host: '127.0.0.22', port: 8082, labels: {}, weight: 30 },
    ])
  })

  it('is what createEndpointSource builds for a service with discovery.dns', async () => {
    const dns = await dnsmasq('127.0.0.11 payments.test\n')
    const source = createEndpointSource(
      {
        name: 'payments',
        endpoints: [],
        discovery: { dns: { name: 'payments.test', type: 'A', port: 9000, resolver: dns.address, refresh: undefined } },
      },
      { clock: new ManualClock() },
    ) as ReturnType<typeof dnsSource>
    closers.push(source.close)
    await source.ready()
    expect(addresses(source.current())).toEqual(['127.0.0.11:9000'])
  })

  it('refuses A records without a port and a bad resolver address', () => {
    expect(() => dnsSource({ name: 'payments.test' })).toThrow(/A records need a port/)
    expect(() => dnsSource({ name: 'payments.test', port: 80, resolver: 'not an address' })).toThrow(/bad resolver address/)
    expect(() => dnsSource({ name: '', port: 80 })).toThrow(/name must be a DNS name/)
  })
})
