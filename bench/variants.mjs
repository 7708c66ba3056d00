// The client variants that the per-request benches (client-instructions, client-alloc) compare: undici
// alone, undici sending what a mesh call sends, and createMesh's stacks.
import { createMesh } from '@weft/client'
import { Agent, fetch, request } from 'undici'

const PASS_THROUGH = { loadBalancer: 'round-robin', retries: { attempts: 1 }, circuitBreaker: false, outlierDetection: false }

/** The service's policy per mesh variant. */
export const SERVICES = {
  'pass-through': PASS_THROUGH,
  // weft's default pools: as many connections as calls need, which the baseline's Agent is not given
  'pass-through-uncapped': PASS_THROUGH,
  default: {},
  timeout: { timeout: '2s' },
  'mesh-fetch': {},
}

/**
 * The mesh policy of `variant` calling the upstream at `address`. Its pools are capped at
 * `connections`, as the baseline's undici Agent is, so that the two are compared on the same
 * sockets; an `-uncapped` variant keeps weft's default (undici's unlimited pools), which opens up to
 * about twice the calls in flight.
 */
export function meshPolicy(variant, address, { connections = 64, services = SERVICES } = {}) {
  if (services[variant] === undefined) throw new Error(`unknown variant ${variant}`)
  const pool = variant.endsWith('-uncapped') ? {} : { connectionPool: { maxConnections: connections } }
  return { apiVersion: 'weft.dev/v1', services: { upstream: { endpoints: [{ address }], ...pool, ...services[variant] } } }
}

/** The headers a pass-through mesh call puts on the wire. */
const MESH_HEADERS = { host: 'upstream', 'x-weft-attempt': '1' }

/**
 * One request of `variant` to the upstream at `address`, as `{ call, close }`:
 * - `raw`: undici.request alone (the baseline), `fetch`: undici's fetch alone;
 * - `raw-headers`: undici.request sending the headers a mesh call sends, with a fresh traceparent
 *   each call as weft makes one: what undici itself charges for them, apart from weft's own code;
 * - a key of `SERVICES` (or of `services`): undici.request through that mesh's dispatcher, or
 *   `mesh.fetch` for `mesh-fetch`, with the mesh's pools capped at `connections` as the Agent is
 *   (see `meshPolicy`).
 */
export async function variantCall(variant, address, { connections = 64, services = SERVICES } = {}) {
  const agent = new Agent({ connections })
  let mesh
  let call
  if (variant === 'raw') {
    call = () => request(`http://${address}/`, { dispatcher: agent }).then((r) => r.body.dump())
  } else if (variant === 'raw-headers') {
    let n = 0
    call = () => {
      const traceparent = `00-${(++n).toString(16).padStart(32, '0')}-${n.toString(16).padStart(16, '0')}-01`
      return request(`http://${address}/`, { dispatcher: agent, headers: { ...MESH_HEADERS, traceparent } }).then((r) => r.body.dump())
    }
  } else if (variant === 'fetch') {
    call = () => fetch(`http://${address}/`, { dispatcher: agent }).then((r) => r.arrayBuffer())
  } else {
    mesh = await createMesh({ service: 'bench', policy: meshPolicy(variant, address, { connections, services }) })
    call =
      variant === 'mesh-fetch'
        ? () => mesh.fetch('http://upstream/').then((r) => r.arrayBuffer())
        : () => request('http://upstream/', { dispatcher: mesh.dispatcher }).then((r) => r.body.dump())
  }
  const close = async () => {
    await mesh?.close()
    await agent.close()
  }
  return { call, close }
}
