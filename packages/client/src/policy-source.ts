/** `createMesh({ policy: { source } })`: a mesh-agent follows the control plane and hands every new version to `mesh.update()`. */
import type { Agent } from '@weft/agent'
import type { Clock, Duration } from '@weft/core'
import type { Policy } from '@weft/policy'

/** Follow a control plane instead of a file: `policy: { source: 'http://127.0.0.1:7700', cache: './.weft/policy-cache.json' }`. */
export interface PolicySource {
  /** The control plane's URL, or several replicas tried in turn. */
  source: string | URL | readonly (string | URL)[]
  /** A file for the last good document, so a restart works while the control plane is down. Default none. */
  cache?: string
  /** `createMesh` rejects with WEFT_POLICY_UNAVAILABLE when neither the control plane nor the cache gave a policy by then. Default `10s`. */
  startTimeout?: Duration
  /** The mesh's trust bundle (PEM), to trust an `https:` control plane before this service has a certificate. */
  ca?: string
  /**
   * A bootstrap token for this service's first certificate. With `identity: { dir }` and an `https:`
   * control plane, the agent keeps the certificate in that folder: a first one with this token, then
   * renewals at half the lifetime (authenticated by the certificate itself).
   */
  token?: string
}

/** True for `{ source, … }` (and not a policy document, which has `apiVersion`). */
export function isPolicySource(input: unknown): input is PolicySource {
  return typeof input === 'object' && input !== null && !Array.isArray(input) && 'source' in input && !('apiVersion' in input)
}

export interface FollowedPolicy {
  readonly agent: Agent
  /** The first policy: from the control plane, or the cache when the control plane is down. */
  readonly first: Policy
  /** From now on every new version goes to `update`; one that arrived before is applied now. */
  attach(update: (document: object) => Promise<unknown>): Promise<void>
}

/** Starts an agent and waits for its first policy (and, with an identity folder on https, its certificate). */
export async function followControlPlane(
  service: string,
  option: PolicySource,
  context: { clock?: Clock | undefined; identityDir?: string | undefined },
): Promise<FollowedPolicy> {
  let apply: ((document: object) => Promise<unknown>) | undefined
  let pending: Policy | undefined
  const https = [option.source].flat().some((s) => String(s).startsWith('https:'))
  // loaded here, not imported: a mesh with a policy of its own never runs the agent (nor loads its
  // HTTP client and certificate code)
  const { createAgent } = await import('@weft/agent')
  const agent = createAgent({
    source: option.source as string,
    service,
    cache: option.cache,
    startTimeout: option.startTimeout,
    clock: context.clock,
    tls: option.ca === undefined ? undefined : { ca: option.ca },
    identity: https && context.identityDir !== undefined ? { dir: context.identityDir, token: option.token } : undefined,
    // the document, not the resolved policy: mesh.update validates what it is given, and the version
    // (a content hash of the document) comes out the same as the control plane's
    onPolicy: (policy) => (apply === undefined ? void (pending = policy) : apply(policy.document as object)),
  })
  const first = await agent.start()
  return {
    agent,
    first,
    async attach(update) {
      apply = update
      const late = pending
      pending = undefined
      if (late !== undefined) await update(late.document as object)
    },
  }
}
