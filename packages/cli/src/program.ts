/** The `weft` command line program, built from the registered sub-commands. */
import { Command } from 'commander'
import { commands } from './commands/index.js'

export function createProgram(): Command {
  const program = new Command('weft').description('weft: a service mesh inside your Node.js process').version('0.1.0')
  program.showHelpAfterError()
  for (const register of commands) register(program)
  return program
}
