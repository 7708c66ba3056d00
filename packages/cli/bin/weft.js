#!/usr/bin/env node
// The `weft` command as npm links it. This file is committed and dist/ is not: `npm ci` in the repo
// links bins before anything is built, and npm links no command whose file is missing then.
// It runs the program from dist/index.js, the package's own build, so no second entry is built for it.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const built = new URL('../dist/index.js', import.meta.url)
if (!existsSync(built)) {
  console.error(`weft: ${fileURLToPath(built)} is missing; the cli is not built yet (in the weft repo: npm run build)`)
  process.exit(1)
}
// `weft tap … | head`: when the reader goes away, stop as quietly as a Unix tool does, not with
// Node's unhandled EPIPE and its stack trace
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  console.error(`weft: cannot write the output: ${err.message}`)
  process.exit(1)
})
const { createProgram } = await import(built.href)
createProgram()
  .parseAsync(process.argv)
  .catch((err) => {
    console.error(err instanceof Error ? err.message : String(err))
    process.exit(1)
  })
