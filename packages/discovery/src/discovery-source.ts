/** What the DNS and file sources add to an EndpointSource: a first answer to wait for, and the last error. */
import type { Endpoint, EndpointSource } from '@weft/core'

export interface DiscoverySource extends EndpointSource {
  /** Resolves once the first lookup finished, answer or not; a balancer with no endpoints yet waits for it. */
  ready(): Promise<void>
  /** Why the last lookup failed, while the last good answer stays in force; `undefined` after a success. */
  lastError(): Error | undefined
}

/** Holds the list, tells subscribers when it really changes. */
export class EndpointList {
  #list: readonly Endpoint[] = Object.freeze([])
  readonly #listeners = new Set<(e: readonly Endpoint[]) => void>()

  current(): readonly Endpoint[] {
    return this.#list
  }

  subscribe(listener: (e: readonly Endpoint[]) => void): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /** Replaces the list when it differs (order aside); returns true when it did. */
  set(next: readonly Endpoint[]): boolean {
    if (sameEndpoints(this.#list, next)) return false
    this.#list = Object.freeze(next.slice())
    for (const l of this.#listeners) l(this.#list)
    return true
  }

  clear(): void {
    this.#listeners.clear()
  }
}

function key(e: Endpoint): string {
  return `${e.address}|${e.weight}|${JSON.stringify(Object.entries(e.labels).sort())}`
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false
  const keys = new Set(a.map(key))
  return b.every((e) => keys.has(key(e)))
}
