/** Runs the built `weft` command as a user does (bin/weft.js, so `npm run build` first), with its exit code and output. */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const launcher = fileURLToPath(new URL('../bin/weft.js', import.meta.url))

export function weft(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [launcher, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
    })
  })
}
