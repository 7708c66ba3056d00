/** The README's first command runs this demo; it must keep working. Needs the packages built (npm test builds them). */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

it('the quick start demo calls through the mesh, prints what happened and exits 0', async () => {
  const main = fileURLToPath(new URL('../examples/quickstart/main.mjs', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, [main], { timeout: 30_000 })

  expect(stdout).toContain('4/4 calls succeeded')
  expect(stdout).toMatch(/payments answered by payments v1/)
  expect(stdout).toMatch(/payments answered by payments v2/)
  expect(stdout).toMatch(/client stack of web: .*balancer/)
}, 40_000)
