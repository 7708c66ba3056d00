/**
 * Where the identity comes from: a directory (`cert.pem`, `key.pem`, `bundle.pem`) watched and
 * reloaded when its files change, or PEM strings (which the control plane can replace later).
 * A new identity is used by new connections only; a bad one is never applied.
 */
import { type FSWatcher, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Clock, type Duration, parseDuration, systemClock, type TimerHandle, WeftError } from '@weft/core'
import { createIdentity, type Identity, type IdentityPems } from './identity.js'

/** A directory to read and watch, or the PEMs themselves. */
export type IdentityOptions = { dir: string } | IdentityPems

export interface IdentitySourceOptions {
  /** Watch the directory and reload on change. Default `true` (directories only). */
  watch?: boolean
  /** Wait this long after the last file event before reloading, so a half-written set is not read. Default `100ms`. */
  debounce?: Duration
  /** Told when a reload fails (bad file, mismatched key, expired); the old identity stays. Default: a process warning. */
  onError?: (error: WeftError) => void
  /** Clock for the debounce timer and validity checks. Default `systemClock`. */
  clock?: Clock
}

export const IDENTITY_SOURCE_DEFAULTS = { watch: true, debounce: 100 } as const

/** The file names in an identity directory. */
export const IDENTITY_FILES = { cert: 'cert.pem', key: 'key.pem', bundle: 'bundle.pem' } as const

export interface IdentitySource {
  /** The identity in force; cheap, call it per connection. */
  current(): Identity
  /** Calls `listener` after a new identity is in force; returns the unsubscribe function. */
  onChange(listener: (identity: Identity, previous: Identity) => void): () => void
  /** Reads the directory again now; resolves `true` when a new identity was applied, `false` when nothing changed. Rejects (old identity kept) when the files are bad. */
  reload(): Promise<boolean>
  /** Replaces the identity with new PEMs (a certificate the control plane signed); throws when they are bad or name another SPIFFE ID, the old one stays. */
  update(pems: IdentityPems): Identity
  /** Stops watching. */
  close(): void
}

/** Loads an identity and, for a directory, watches it. Rejects with `WEFT_CERTIFICATE_INVALID` naming the file. */
export async function createIdentitySource(options: IdentityOptions, sourceOptions: IdentitySourceOptions = {}): Promise<IdentitySource> {
  const clock = sourceOptions.clock ?? systemClock
  const onError = sourceOptions.onError ?? ((err: WeftError) => process.emitWarning(err.message, { code: err.code }))
  if (options === null || typeof options !== 'object') {
    throw new WeftError('WEFT_INVALID_ARGUMENT', 'identity: pass { dir } or { cert, key, bundle }')
  }
  if ('dir' in options) {
    if (typeof options.dir !== 'string' || options.dir.length === 0)
      throw new WeftError('WEFT_INVALID_ARGUMENT', 'identity.dir must be a path')
    const first = await readDir(options.dir, clock)
    const source = new Source(first.identity, clock, options.dir)
    if (sourceOptions.watch ?? IDENTITY_SOURCE_DEFAULTS.watch) {
      source.watch(parseDuration(sourceOptions.debounce ?? IDENTITY_SOURCE_DEFAULTS.debounce), onError)
    }
    return source
  }
  const { cert, key, bundle } = options
  for (const [name, value] of Object.entries({ cert, key, bundle })) {
    if (typeof value !== 'string' || value.length === 0) throw new WeftError('WEFT_INVALID_ARGUMENT', `identity.${name} must be PEM text`)
  }
  return new Source(createIdentity({ cert, key, bundle }, { now: clock.now() }), clock, undefined)
}

async function readDir(dir: string, clock: Clock): Promise<{ identity: Identity; pems: IdentityPems }> {
  const files = { cert: join(dir, IDENTITY_FILES.cert), key: join(dir, IDENTITY_FILES.key), bundle: join(dir, IDENTITY_FILES.bundle) }
  const read = (file: string) =>
    readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new WeftError('WEFT_CERTIFICATE_INVALID', `${file}: cannot read: ${err.code ?? err.message}`, { cause: err, details: { file } })
    })
  // read together, but report a missing file in a fixed order (cert, key, bundle), whichever fails first
  const results = await Promise.allSettled([read(files.cert), read(files.key), read(files.bundle)])
  for (const r of results) if (r.status === 'rejected') throw r.reason
  const [cert, key, bundle] = results.map((r) => (r as PromiseFulfilledResult<string>).value) as [string, string, string]
  const pems = { cert, key, bundle }
  return { identity: createIdentity(pems, { now: clock.now(), files }), pems }
}

class Source implements IdentitySource {
  #identity: Identity
  readonly #clock: Clock
  readonly #dir: string | undefined
  readonly #listeners = new Set<(identity: Identity, previous: Identity) => void>()
  #watcher: FSWatcher | undefined
  #timer: TimerHandle | undefined
  #reloading: Promise<boolean> = Promise.resolve(false)
  #closed = false

  constructor(identity: Identity, clock: Clock, dir: string | undefined) {
    this.#identity = identity
    this.#clock = clock
    this.#dir = dir
  }

  current(): Identity {
    return this.#identity
  }

  onChange(listener: (identity: Identity, previous: Identity) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  reload(): Promise<boolean> {
    const dir = this.#dir
    if (dir === undefined) return Promise.resolve(false)
    // one reload at a time, in order: the last one reads the newest files
    const next = this.#reloading.then(async () => {
      const { identity, pems } = await readDir(dir, this.#clock)
      if (this.#closed || samePems(pems, this.#identity)) return false
      this.#apply(sameIdentity(identity, this.#identity, join(dir, IDENTITY_FILES.cert)))
      return true
    })
    this.#reloading = next.catch(() => false)
    return next
  }

  update(pems: IdentityPems): Identity {
    const identity = sameIdentity(createIdentity(pems, { now: this.#clock.now() }), this.#identity, 'cert')
    if (!samePems(pems, this.#identity)) this.#apply(identity)
    return this.#identity
  }

  watch(debounceMs: number, onError: (error: WeftError) => void): void {
    const dir = this.#dir as string
    const fire = () => {
      this.#timer = undefined
      this.reload().catch((err: unknown) => onError(err as WeftError))
    }
    try {
      this.#watcher = watch(dir, { persistent: false }, () => {
        if (this.#closed) return
        this.#timer?.cancel()
        this.#timer = this.#clock.setTimer(fire, debounceMs)
      })
      this.#watcher.on('error', (err) =>
        onError(
          new WeftError('WEFT_CERTIFICATE_INVALID', `${dir}: watching stopped: ${err.message}`, { cause: err, details: { file: dir } }),
        ),
      )
    } catch (err) {
      throw new WeftError('WEFT_CERTIFICATE_INVALID', `${dir}: cannot watch: ${(err as Error).message}`, {
        cause: err,
        details: { file: dir },
      })
    }
  }

  close(): void {
    this.#closed = true
    this.#timer?.cancel()
    this.#watcher?.close()
    this.#listeners.clear()
  }

  #apply(identity: Identity) {
    const previous = this.#identity
    this.#identity = identity
    for (const listener of this.#listeners) listener(identity, previous)
  }
}

/** A rotation renews a certificate; it never turns this process into another workload. */
function sameIdentity(next: Identity, current: Identity, file: string): Identity {
  if (next.spiffeId !== current.spiffeId) {
    throw new WeftError(
      'WEFT_CERTIFICATE_INVALID',
      `${file} names ${next.spiffeId} but this process is ${current.spiffeId}: an identity does not change at runtime, restart to take another`,
      { details: { file, expected: current.spiffeId, actual: next.spiffeId } },
    )
  }
  return next
}

function samePems(a: IdentityPems, b: IdentityPems): boolean {
  return a.cert === b.cert && a.key === b.key && a.bundle === b.bundle
}
