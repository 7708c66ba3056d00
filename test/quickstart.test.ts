/** The README's first command runs this demo; it must keep working. Needs the packages built (npm test builds them). */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const main = fileURLToPath(new URL('../examples/quickstart/main.mjs', import.meta.url))
/** Runs the quick start in a process of its own; rejects when it exits non-zero. */
const quickStart = () => promisify(execFile)(process.execPath, [main], { timeout: 30_000 })

it('the quick start demo calls through the mesh, prints what happened and exits 0', async () => {
  const { stdout } = await quickStart()

  expect(stdout).toContain('4/4 calls succeeded')
  expect(stdout).toMatch(/payments answered by payments v1/)
  expect(stdout).toMatch(/payments answered by payments v2/)
  expect(stdout).toMatch(/client stack of web: .*balancer/)
}, 40_000)

it('two quick starts at once each listen on ports of their own and both succeed', async () => {
  const runs = await Promise.all([quickStart(), quickStart()])

  for (const { stdout } of runs) expect(stdout).toContain('4/4 calls succeeded')
  const [first, second] = runs.map(({ stdout }) => /^checkout on (\S+);/m.exec(stdout)?.[1])
  expect(first).toMatch(/^127\.0\.0\.1:\d+$/)
  expect(second).not.toBe(first)
}, 40_000)
