#!/usr/bin/env node
/** Entry point of the `weft` command. */
import { createProgram } from './program.js'

createProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err))
    process.exit(1)
  })
