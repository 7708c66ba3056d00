// The client variants that the per-request benches (client-instructions, client-alloc) compare: undici
// alone, undici sending what a mesh call sends, and createMesh's stacks.
import { createMesh } from '@weft/client'
import { Agent, fetch, request } from 'undici'

/** The service's policy per mesh variant. */
export const SERVICES = {
  'pass-through': { loadBalancer: 'round-robin', retries: { attempts: 1 }, circuitBreaker: false, outlierDetection: false },
  default: {},
  timeout: { timeout: '2s' },
  'mesh-fetch': {},
}

/** The headers a pass-through mesh call puts on the wire. */
const MESH_HEADERS = { host: 'upstream', 'x-weft-attempt': '1' }

/**
 * One request of `variant` to the upstream at `address`, as `{ call, close }`:
 * - `raw`: undici.request alone (the baseline), `fetch`: undici's fetch alone;
 * - `raw-headers`: undici.request sending the headers a mesh call sends, with a fresh traceparent
 *   each call as weft makes one: what undici itself charges for them, apart from weft's own code;
 * - a key of `SERVICES` (or of `services`): undici.request through that mesh's dispatcher, or
 *   `mesh.fetch` for `mesh-fetch`.
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
    if (services[variant] === undefined) throw new Error(`unknown variant ${variant}`)
    const policy = { apiVersion: 'weft.dev/v1', services: { upstream: { endpoints: [{ address }], ...services[variant] } } }
    mesh = await createMesh({ service: 'bench', policy })
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
