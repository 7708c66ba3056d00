import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Endpoint } from '@weft/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createEndpointSource, fileSource, parseEndpointFile } from '../src/index.js'

let dir: string
const closers: (() => void)[] = []
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-file-source-'))
})
afterEach(async () => {
  for (const c of closers.splice(0)) c()
  await rm(dir, { recursive: true, force: true })
})

const addresses = (list: readonly Endpoint[]) => list.map((e) => e.address).sort()

/** A source plus a way to wait for its next change or its next error. */
function watched(path: string) {
  const errors: Error[] = []
  let onError: (e: Error) => void = () => {}
  const source = fileSource({
    path,
    onError: (e) => {
      errors.push(e)
      onError(e)
    },
  })
  closers.push(source.close)
  return {
    source,
    errors,
    nextChange: () =>
      new Promise<readonly Endpoint[]>((resolve) => {
        const off = source.subscribe((e) => {
          off()
          resolve(e)
        })
      }),
    nextError: () =>
      new Promise<Error>((resolve) => {
        onError = resolve
      }),
  }
}

describe('file discovery', () => {
  it('reads the endpoints, labels and weights from a JSON file', async () => {
    const path = join(dir, 'payments.json')
    await writeFile(
      path,
      JSON.stringify({ endpoints: [{ address: '127.0.0.1:8081', labels: { version: 'v1' }, weight: 2 }, '127.0.0.1:8082'] }),
    )
    const { source } = watched(path)
    await source.ready()
    expect(source.current()).toEqual([
      { address: '127.0.0.1:8081', host: '127.0.0.1', port: 8081, labels: { version: 'v1' }, weight: 2 },
      { address: '127.0.0.1:8082', host: '127.0.0.1', port: 8082, labels: {}, weight: 1 },
    ])
  })

  it('follows edits, including an atomic replace by rename', async () => {
    const path = join(dir, 'payments.json')
    await writeFile(path, '["127.0.0.1:8081"]')
    const w = watched(path)
    await w.source.ready()

    let changed = w.nextChange()
    await writeFile(path, '["127.0.0.1:8081", "127.0.0.1:8082"]')
    expect(addresses(await changed)).toEqual(['127.0.0.1:8081', '127.0.0.1:8082'])

    changed = w.nextChange()
    await writeFile(join(dir, 'next.tmp'), '["127.0.0.1:9000"]')
    await rename(join(dir, 'next.tmp'), path)
    expect(addresses(await changed)).toEqual(['127.0.0.1:9000'])
  })

  it('keeps the last good list when the file turns invalid, and says where', async () => {
    const path = join(dir, 'payments.json')
    await writeFile(path, '["127.0.0.1:8081"]')
    const w = watched(path)
    await w.source.ready()
    const failed = w.nextError()
    await writeFile(path, '[{ "address": "127.0.0.1:8081" }, { "address": "nope" }]')
    expect((await failed).message).toBe(
      `file discovery ${path}: endpoints[1]: endpoint address "nope": expected host:port; keeping the last good list`,
    )
    expect(addresses(w.source.current())).toEqual(['127.0.0.1:8081'])
  })

  it('starts empty when the file is missing, and fills in when it appears', async () => {
    const path = join(dir, 'later.json')
    const w = watched(path)
    await w.source.ready()
    expect(w.source.current()).toEqual([])
    expect(w.source.lastError()?.message).toMatch(/ENOENT/)
    const changed = w.nextChange()
    await writeFile(path, '["127.0.0.1:8081"]')
    expect(addresses(await changed)).toEqual(['127.0.0.1:8081'])
    expect(w.source.lastError()).toBeUndefined()
  })

  it('is what createEndpointSource builds for a service with discovery.file', async () => {
    const path = join(dir, 'payments.json')
    await writeFile(path, '["127.0.0.1:8081"]')
    const source = createEndpointSource({ name: 'payments', endpoints: [], discovery: { file: { path } } }) as ReturnType<typeof fileSource>
    closers.push(source.close)
    await source.ready()
    expect(addresses(source.current())).toEqual(['127.0.0.1:8081'])
  })
})

describe('endpoint files that are wrong', () => {
  it.each([
    ['not JSON', 'endpoints:', /^not JSON/],
    ['neither an array nor { endpoints }', '{"hosts": []}', /expected an array of endpoints/],
    ['an unknown key', '[{"address": "127.0.0.1:1", "wieght": 2}]', /^endpoints\[0\]\.wieght: unknown key$/],
    ['a label that is not a string', '[{"address": "127.0.0.1:1", "labels": {"v": 1}}]', /^endpoints\[0\]\.labels\.v: expected a string$/],
    [
      '__proto__ as a label',
      '[{"address": "127.0.0.1:1", "labels": {"__proto__": "x"}}]',
      /^endpoints\[0\]\.labels\.__proto__: not allowed/,
    ],
    ['a zero weight', '[{"address": "127.0.0.1:1", "weight": 0}]', /^endpoints\[0\]: .*weight must be a positive number/],
    ['a port out of range', '["127.0.0.1:65536"]', /^endpoints\[0\]: .*expected host:port/],
    ['an entry that is a number', '[80]', /^endpoints\[0\]: expected "host:port" or an object$/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseEndpointFile(text)).toThrow(message)
    expect(({} as Record<string, unknown>).x).toBeUndefined()
  })
})
