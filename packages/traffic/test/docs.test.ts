/** Every recipe in docs/traffic.md is a policy weft accepts, and the main ones route as the text says. */
import { readFileSync } from 'node:fs'
import type { Call } from '@weft/core'
import { testCall } from '@weft/core/testing'
import { parsePolicy, type ServicePolicy } from '@weft/policy'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { route } from '../src/index.js'

const text = readFileSync(new URL('../../../docs/traffic.md', import.meta.url), 'utf8')
/** The YAML blocks that are a service's `routes:`, with the heading they stand under. */
const recipes: [string, unknown[]][] = []
let heading = ''
for (const part of text.split(/^```/m).entries()) {
  const [i, chunk] = part
  if (i % 2 === 0) {
    const h = [...chunk.matchAll(/^## (.+)$/gm)].at(-1)
    if (h !== undefined) heading = h[1] as string
  } else if (chunk.startsWith('yaml\nroutes:')) {
    recipes.push([`${heading} #${recipes.filter(([h]) => h.startsWith(heading)).length + 1}`, parse(chunk.slice(5)).routes])
  }
}

function payments(routes: unknown[]): ServicePolicy {
  const labels = ['v1', 'v2', 'blue', 'green', 'a', 'b']
  const policy = parsePolicy({
    apiVersion: 'weft.dev/v1',
    services: {
      payments: {
        endpoints: labels.map((version, i) => ({ address: `127.0.0.1:${i + 1}`, labels: { version } })),
        subsets: Object.fromEntries(labels.map((v) => [v, { version: v }])),
        routes,
      },
    },
  })
  return policy.services.payments as ServicePolicy
}

const recipe = (name: string) => recipes.find(([h]) => h.startsWith(name))?.[1] as unknown[]

async function subsets(routes: unknown[], calls: Partial<Call>[]): Promise<(string | undefined)[]> {
  const seen: (string | undefined)[] = []
  const handler = route({ service: payments(routes) })(async (call) => {
    seen.push(call.subset)
    return { status: 200, headers: {}, body: undefined }
  })
  for (const c of calls) await handler(testCall(c))
  return seen
}

describe('docs/traffic.md', () => {
  it('has the recipes the issue asks for', () => {
    const headings = recipes.map(([h]) => h)
    for (const name of ['Canary', 'Blue-green', 'A/B', 'Header routing', 'Fault injection', 'Mirroring']) {
      expect(headings.some((h) => h.startsWith(name))).toBe(true)
    }
  })

  it.each(recipes)('%s is a valid policy', (_name, routes) => {
    expect(() => payments(routes)).not.toThrow()
  })

  it('the header-routing recipe sends x-version: v2 to v2 and the rest to v1', async () => {
    expect(await subsets(recipe('Header routing'), [{ headers: { 'x-version': 'v2' } }, {}])).toEqual(['v2', 'v1'])
  })

  it('the A/B recipe keeps one session on one subset', async () => {
    const seen = await subsets(
      recipe('A/B'),
      Array.from({ length: 20 }, () => ({ headers: { cookie: 'session=abc123' } })),
    )
    expect(new Set(seen).size).toBe(1)
  })
})
