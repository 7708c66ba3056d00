/**
 * A policy store and the rule every store keeps: a document becomes the served version only after it
 * validates; a bad one is reported (log, `/v1/status`, `/metrics`) and the last good version stays.
 */
import type { Clock } from '@weft/core'
import { type Policy, parsePolicy } from '@weft/policy'

/** A validated version, ready to serve. */
export interface PolicySnapshot {
  /** The ETag: the policy's content hash, so replicas reading the same document serve the same version. */
  readonly version: string
  /** The validated document (input shape) as JSON text, exactly as served inside the envelope. */
  readonly json: string
  readonly policy: Policy
  /** Epoch ms when this version was loaded. */
  readonly loadedAt: number
}

/** The latest document that was refused (or could not be read), while the last good version stays in force. */
export interface StoreProblem {
  readonly at: number
  readonly message: string
  /** Field paths and messages from validation, when the document was read but is invalid. */
  readonly issues?: unknown
}

export interface StoreLogger {
  warn(message: string, details?: Readonly<Record<string, unknown>>): void
  info?(message: string, details?: Readonly<Record<string, unknown>>): void
}

/** What the control plane hands a store when it starts it. */
export interface StoreContext {
  clock: Clock
  logger: StoreLogger
}

/** Where policy comes from. `directoryStore(dir)` and `etcdStore({ endpoints })` are the two that ship. */
export interface PolicyStore {
  /** What it reads, for logs and `/v1/status`: `dir:/etc/weft`, `etcd:http://127.0.0.1:2379/weft/mesh`. */
  readonly description: string
  /** Reads the first document and starts watching; resolves after the first read, good or not. */
  start(context: StoreContext): Promise<void>
  /** The version served, or `undefined` before any document validated. */
  current(): PolicySnapshot | undefined
  /** The latest problem, cleared by the next good read. */
  lastError(): StoreProblem | undefined
  /** Documents served (valid loads) and problems recorded. */
  counts(): { loads: number; problems: number }
  /** Called after the version or the problem changes; returns the unsubscribe function. */
  onChange(listener: () => void): () => void
  close(): Promise<void>
}

/** The last-good rule shared by every store: offer documents, read the version in force. */
export class LastGood {
  readonly #description: string
  readonly #context: StoreContext
  readonly #listeners = new Set<() => void>()
  #current: PolicySnapshot | undefined
  #problem: StoreProblem | undefined
  #loads = 0
  #problems = 0

  constructor(description: string, context: StoreContext) {
    this.#description = description
    this.#context = context
  }

  current(): PolicySnapshot | undefined {
    return this.#current
  }

  lastError(): StoreProblem | undefined {
    return this.#problem
  }

  counts() {
    return { loads: this.#loads, problems: this.#problems }
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Validates document text (YAML or JSON) read from `where`; serves it when valid, reports it when not. */
  async offer(text: string, where: string): Promise<void> {
    let policy: Policy
    try {
      policy = parsePolicy(text, { source: where })
    } catch (err) {
      const e = err as Error & { details?: { issues?: unknown } }
      return this.problem(`${where} fails validation: ${e.message}`, e.details?.issues)
    }
    // the policy's own content hash (canonical JSON): replicas reading the same document agree on it, and so
    // does a mesh that validates the served document again
    const version = policy.version
    const json = JSON.stringify(policy.document)
    this.#loads++
    const changed = version !== this.#current?.version
    const hadProblem = this.#problem !== undefined
    this.#problem = undefined
    if (changed) {
      this.#current = { version, json, policy, loadedAt: this.#context.clock.now() }
      this.#context.logger.info?.(`serving policy version ${version} from ${where}`, { store: this.#description, version })
    }
    if (changed || hadProblem) this.#emit()
  }

  /** Records a problem (unreadable, missing, invalid); the version in force stays. */
  problem(message: string, issues?: unknown): void {
    this.#problems++
    const repeated = this.#problem?.message === message
    this.#problem = { at: this.#context.clock.now(), message, ...(issues === undefined ? {} : { issues }) }
    if (repeated) return
    const keeping =
      this.#current === undefined ? 'nothing is served until a valid document arrives' : `still serving version ${this.#current.version}`
    this.#context.logger.warn(`${message} (${keeping})`, { store: this.#description })
    this.#emit()
  }

  #emit() {
    for (const listener of this.#listeners) listener()
  }
}
