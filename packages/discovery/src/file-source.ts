/**
 * Endpoints from a JSON file that is watched: edit it (or replace it atomically with a rename) and
 * the service follows. A file that is missing, too large or invalid keeps the last good list.
 *
 * The file holds `{ "endpoints": [ { "address": "10.0.0.1:8080", "labels": { … }, "weight": 1 } ] }`,
 * or just the array; an entry may also be a bare `"host:port"` string.
 */
import { type FSWatcher, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import type { Endpoint } from '@weft/core'
import { type DiscoverySource, EndpointList } from './discovery-source.js'
import { dedupe, toEndpoint } from './static-source.js'

export interface FileSourceOptions {
  /** The file; a relative path resolves against `process.cwd()`. */
  path: string
  /** Told about each failed read (the last good list stays). Default: nothing. */
  onError?: (err: Error) => void
}

export const FILE_DEFAULTS = {
  /** Larger files are refused before parsing. */
  maxBytes: 1024 * 1024,
  /** More entries are refused. */
  maxEndpoints: 100_000,
} as const

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

export function fileSource(options: FileSourceOptions): DiscoverySource {
  const path = resolve(options.path)
  const list = new EndpointList()
  let error: Error | undefined
  let closed = false
  let reading = false
  let again = false
  let markReady: () => void = () => {}
  const ready = new Promise<void>((r) => {
    markReady = r
  })

  async function load() {
    if (reading) {
      again = true // an event during a read: read once more after it
      return
    }
    reading = true
    do {
      again = false
      try {
        const text = await readFile(path, 'utf8')
        if (Buffer.byteLength(text) > FILE_DEFAULTS.maxBytes) throw new Error(`larger than ${FILE_DEFAULTS.maxBytes} bytes`)
        const endpoints = parseEndpointFile(text)
        if (closed) return
        list.set(endpoints)
        error = undefined
      } catch (cause) {
        error = new Error(`file discovery ${path}: ${(cause as Error).message}; keeping the last good list`, { cause })
        options.onError?.(error)
      }
    } while (again && !closed)
    reading = false
    markReady()
  }

  // the directory is watched, not the file: an atomic replace (write + rename) swaps the file's inode
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (!closed && (file === null || file === basename(path))) void load()
    })
    watcher.on('error', (cause) => {
      error = new Error(`file discovery ${path}: watching failed: ${cause.message}`, { cause })
    })
  } catch (cause) {
    error = new Error(`file discovery ${path}: cannot watch ${dirname(path)}: ${(cause as Error).message}`, { cause })
  }
  void load()

  return {
    current: () => list.current(),
    subscribe: (l) => list.subscribe(l),
    ready: () => ready,
    lastError: () => error,
    close() {
      closed = true
      watcher?.close()
      list.clear()
      markReady()
    },
  }
}

/** Parses and checks an endpoint file; throws with the position of the first bad entry. */
export function parseEndpointFile(text: string): Endpoint[] {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (cause) {
    throw new Error(`not JSON: ${(cause as Error).message}`)
  }
  const entries = Array.isArray(doc) ? doc : isRecord(doc) && Array.isArray(doc.endpoints) ? doc.endpoints : undefined
  if (entries === undefined) throw new Error('expected an array of endpoints or { "endpoints": [...] }')
  if (entries.length > FILE_DEFAULTS.maxEndpoints) throw new Error(`more than ${FILE_DEFAULTS.maxEndpoints} endpoints`)
  const out = entries.map((entry: unknown, i: number) => {
    const at = `endpoints[${i}]`
    if (typeof entry === 'string') return wrap(at, () => toEndpoint(entry))
    if (!isRecord(entry)) throw new Error(`${at}: expected "host:port" or an object`)
    for (const k of Object.keys(entry)) if (!['address', 'labels', 'weight'].includes(k)) throw new Error(`${at}.${k}: unknown key`)
    if (typeof entry.address !== 'string') throw new Error(`${at}.address: expected "host:port"`)
    const labels = entry.labels ?? {}
    if (!isRecord(labels)) throw new Error(`${at}.labels: expected an object of strings`)
    for (const [k, v] of Object.entries(labels)) {
      if (FORBIDDEN_KEYS.has(k)) throw new Error(`${at}.labels.${k}: not allowed as a key`)
      if (typeof v !== 'string') throw new Error(`${at}.labels.${k}: expected a string`)
    }
    if (entry.weight !== undefined && typeof entry.weight !== 'number') throw new Error(`${at}.weight: expected a number`)
    return wrap(at, () =>
      toEndpoint({
        address: entry.address as string,
        labels: labels as Record<string, string>,
        weight: entry.weight as number | undefined,
      }),
    )
  })
  return dedupe(out)
}

function wrap(at: string, f: () => Endpoint): Endpoint {
  try {
    return f()
  } catch (err) {
    throw new Error(`${at}: ${(err as Error).message}`)
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
