/**
 * A policy store in etcd: one key holds the mesh document (YAML or JSON), watched; several control-plane
 * replicas on one etcd serve the same version (the ETag is a content hash) and survive one another's loss.
 */
import { type Duration, parseDuration, type TimerHandle } from '@weft/core'
import { EtcdGateway } from './etcd-gateway.js'
import { LastGood, type PolicyStore, type StoreContext } from './store.js'

export interface EtcdStoreOptions {
  /** etcd client URLs (`http://127.0.0.1:2379`); the store moves to the next one when one fails. */
  endpoints: readonly (string | URL)[]
  /** The key prefix of this mesh in a shared etcd. Default `/weft/`. */
  prefix?: string
  /** The key under the prefix holding the mesh document. Default `mesh`. */
  key?: string
  /** Reconnect backoff after etcd fails: doubles from `base` to `max`. Default `{ base: '100ms', max: '5s' }`. */
  retry?: { base?: Duration; max?: Duration }
}

export const ETCD_STORE_DEFAULTS = { prefix: '/weft/', key: 'mesh', retry: { base: 100, max: 5_000 } } as const

export function etcdStore(options: EtcdStoreOptions): PolicyStore {
  if (!Array.isArray(options?.endpoints) || options.endpoints.length === 0)
    throw new Error('etcdStore: endpoints must list at least one etcd client URL')
  const gateways = options.endpoints.map((e) => new EtcdGateway(e))
  const key = `${options.prefix ?? ETCD_STORE_DEFAULTS.prefix}${options.key ?? ETCD_STORE_DEFAULTS.key}`
  const base = parseDuration(options.retry?.base ?? ETCD_STORE_DEFAULTS.retry.base)
  const max = parseDuration(options.retry?.max ?? ETCD_STORE_DEFAULTS.retry.max)
  const description = `etcd:${gateways.map((g) => g.endpoint.origin).join(',')}${key}`
  const stop = new AbortController()
  let keeper: LastGood | undefined
  let loop: Promise<void> | undefined
  let index = 0

  /** Reads the key, then follows it until the watch breaks; returns to re-read on any failure. */
  async function follow(ctx: StoreContext, onFirstRead: () => void): Promise<void> {
    const k = keeper as LastGood
    let failures = 0
    let pending: TimerHandle | undefined
    while (!stop.signal.aborted) {
      const gateway = gateways[index] as EtcdGateway
      try {
        const read = await gateway.range(key)
        if (read.value === undefined) k.problem(`etcd key ${key} does not exist`)
        else await k.offer(read.value, `etcd ${gateway.endpoint.origin} ${key}@${read.modRevision}`)
        onFirstRead()
        failures = 0
        // offers run one after another so a slow validation cannot reorder versions
        let chain = Promise.resolve()
        await gateway.watch(
          key,
          read.revision + 1,
          (event) => {
            chain = chain.then(() =>
              event.type === 'put'
                ? k.offer(event.value, `etcd ${gateway.endpoint.origin} ${key}@${event.modRevision}`)
                : k.problem(`etcd key ${key} was deleted at revision ${event.modRevision}`),
            )
          },
          stop.signal,
        )
        await chain
      } catch (err) {
        onFirstRead()
        if (stop.signal.aborted) break
        k.problem(`etcd ${gateway.endpoint.origin}: ${(err as Error).message}`)
      }
      if (stop.signal.aborted) break
      index = (index + 1) % gateways.length
      const delay = Math.min(max, base * 2 ** Math.min(failures++, 20))
      await new Promise<void>((resolve) => {
        pending = ctx.clock.setTimer(resolve, delay)
        stop.signal.addEventListener('abort', () => resolve(), { once: true })
      })
      pending?.cancel()
    }
  }

  return {
    description,
    start(ctx) {
      keeper = new LastGood(description, ctx)
      return new Promise<void>((resolve) => {
        loop = follow(ctx, resolve)
      })
    },
    current: () => keeper?.current(),
    lastError: () => keeper?.lastError(),
    counts: () => keeper?.counts() ?? { loads: 0, problems: 0 },
    onChange: (listener) => {
      if (keeper === undefined) throw new Error('etcdStore: start() first')
      return keeper.onChange(listener)
    },
    async close() {
      stop.abort()
      await loop
      for (const g of gateways) g.close()
    },
  }
}
