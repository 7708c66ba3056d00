/** A policy store on a directory: `mesh.yaml`, `mesh.yml` or `mesh.json` in it, watched for changes. */
import { type FSWatcher, watch } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type Duration, parseDuration, type TimerHandle } from '@weft/core'
import { LastGood, type PolicyStore, type StoreContext } from './store.js'

/** The file names a directory store reads, exactly one of which may exist. */
export const POLICY_FILES = ['mesh.yaml', 'mesh.yml', 'mesh.json'] as const

/** Larger files are refused before they are read (the policy limit). */
const MAX_FILE_BYTES = 1024 * 1024

export interface DirectoryStoreOptions {
  /** Besides file-system events, re-check the files this often (events can be missed on network file systems). Default `2s`. */
  recheck?: Duration
}

export const DIRECTORY_STORE_DEFAULTS = { recheck: 2_000 } as const

/** Serves the mesh document in `dir` (relative paths resolve against `process.cwd()`). */
export function directoryStore(dir: string, options: DirectoryStoreOptions = {}): PolicyStore {
  const root = resolve(dir)
  const recheck = parseDuration(options.recheck ?? DIRECTORY_STORE_DEFAULTS.recheck)
  const description = `dir:${root}`
  let keeper: LastGood | undefined
  let watcher: FSWatcher | undefined
  let timer: TimerHandle | undefined
  let debounce: TimerHandle | undefined
  let context: StoreContext | undefined
  let signature = ''
  let reading: Promise<void> | undefined
  let again = false
  let closed = false

  /** Reads the directory unless nothing changed since the last read (`force` reads anyway). */
  async function read(force: boolean): Promise<void> {
    const k = keeper as LastGood
    const found: { name: string; size: number; sig: string }[] = []
    for (const name of POLICY_FILES) {
      try {
        const s = await stat(join(root, name))
        if (s.isFile()) found.push({ name, size: s.size, sig: `${name}:${s.ino}:${s.size}:${s.mtimeMs}` })
      } catch {}
    }
    const sig = found.map((f) => f.sig).join('|')
    if (!force && sig === signature) return
    signature = sig
    if (found.length === 0) return k.problem(`no ${POLICY_FILES.join(', ')} in ${root}`)
    if (found.length > 1) return k.problem(`${root} holds ${found.map((f) => f.name).join(' and ')}; keep exactly one`)
    const file = found[0] as { name: string; size: number }
    const path = join(root, file.name)
    if (file.size > MAX_FILE_BYTES)
      return k.problem(`${path} is ${file.size} bytes, over the policy limit of ${MAX_FILE_BYTES} bytes (1 MiB)`)
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      signature = ''
      return k.problem(`${path} could not be read: ${(err as Error).message}`)
    }
    await k.offer(text, path)
  }

  /** One read at a time; a change during a read triggers one more. */
  function schedule(force = false) {
    if (closed) return
    if (reading !== undefined) {
      again = true
      return
    }
    reading = read(force).finally(() => {
      reading = undefined
      if (again && !closed) {
        again = false
        schedule(true)
      }
    })
  }

  function tick() {
    schedule()
    timer = context?.clock.setTimer(tick, recheck)
  }

  return {
    description,
    async start(ctx) {
      context = ctx
      keeper = new LastGood(description, ctx)
      await read(true)
      try {
        watcher = watch(root, { persistent: false }, () => {
          // editors write in several steps; read once they are done
          debounce?.cancel()
          debounce = ctx.clock.setTimer(() => schedule(true), 20)
        })
        watcher.on('error', (err) => keeper?.problem(`watching ${root} failed: ${err.message}; re-checking every ${recheck}ms`))
      } catch (err) {
        keeper.problem(`cannot watch ${root}: ${(err as Error).message}; re-checking every ${recheck}ms`)
      }
      timer = ctx.clock.setTimer(tick, recheck)
    },
    current: () => keeper?.current(),
    lastError: () => keeper?.lastError(),
    counts: () => keeper?.counts() ?? { loads: 0, problems: 0 },
    onChange: (listener) => {
      if (keeper === undefined) throw new Error('directoryStore: start() first')
      return keeper.onChange(listener)
    },
    async close() {
      closed = true
      watcher?.close()
      timer?.cancel()
      debounce?.cancel()
      await reading
    },
  }
}
