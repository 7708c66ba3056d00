/** Every `weft` sub-command; each file registers one on the program. */
import type { Command } from 'commander'
import { registerCerts } from './certs.js'
import { registerCheck } from './check.js'
import { registerControlPlane } from './control-plane.js'
import { registerDemo } from './demo.js'
import { registerImport } from './import.js'
import { registerRoutes } from './routes.js'
import { registerTap } from './tap.js'
import { registerTop } from './top.js'

export type Register = (program: Command) => void

// Sub-commands register here, one import and one entry each.
export const commands: Register[] = [
  registerControlPlane,
  registerCerts,
  registerCheck,
  registerRoutes,
  registerTop,
  registerTap,
  registerImport,
  registerDemo,
]
