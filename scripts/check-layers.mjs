#!/usr/bin/env node
// Fails when a workspace package depends on one in its own or a later layer (DESIGN.md's order),
// or when the package graph has a cycle. Reads package.json dependencies and every import in src/.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

// Layers, lowest first: a package may import only from strictly lower layers.
const LAYERS = [
  ['core'],
  ['policy'],
  ['balancer', 'breaker', 'retry', 'deadline', 'mtls', 'trace', 'metrics', 'traffic', 'discovery'],
  ['agent'],
  ['server'], // the inbound stack and adapters; client offers mesh.createServer on top of it
  ['client'],
  ['control-plane'],
  ['cli'],
]
const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])))
const root = new URL('..', import.meta.url).pathname
const problems = []
const graph = new Map()

function* sources(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name)
    if (entry.isDirectory()) yield* sources(p)
    else if (/\.(ts|mts|cts|js|mjs)$/.test(entry.name)) yield p
  }
}

for (const name of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', name)
  if (!existsSync(join(dir, 'package.json'))) continue
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const mine = layerOf.get(name)
  if (mine === undefined) {
    problems.push(`packages/${name}: not placed in a layer in scripts/check-layers.mjs`)
    continue
  }
  const declared = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })
    .filter((d) => d.startsWith('@weft/'))
    .map((d) => d.slice(6))
  const imported = new Set()
  for (const file of sources(join(dir, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]@weft\/([a-z-]+)/g)) imported.add(m[1])
  }
  for (const dep of imported) {
    if (!declared.includes(dep)) problems.push(`@weft/${name} imports @weft/${dep} without declaring it in package.json`)
  }
  graph.set(name, [...new Set([...declared, ...imported])])
  for (const dep of graph.get(name)) {
    const theirs = layerOf.get(dep)
    if (theirs === undefined) problems.push(`@weft/${name} depends on unknown @weft/${dep}`)
    else if (theirs >= mine) problems.push(`@weft/${name} (layer ${mine}) must not depend on @weft/${dep} (layer ${theirs})`)
  }
}

// A cycle is impossible when every edge goes to a lower layer, but check directly so a wrong layer table cannot hide one.
const state = new Map()
function visit(n, path) {
  if (state.get(n) === 'done') return
  if (state.get(n) === 'open') {
    problems.push(`dependency cycle: ${[...path.slice(path.indexOf(n)), n].map((x) => `@weft/${x}`).join(' → ')}`)
    return
  }
  state.set(n, 'open')
  for (const d of graph.get(n) ?? []) visit(d, [...path, n])
  state.set(n, 'done')
}
for (const n of graph.keys()) visit(n, [])

if (problems.length > 0) {
  console.error(`check-layers: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`check-layers: ${graph.size} packages, every dependency points to a lower layer, no cycles`)
