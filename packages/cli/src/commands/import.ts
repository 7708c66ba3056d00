/** `weft import <files…>`: Istio, Gateway API and SMI YAML into a weft policy, saying what did not translate. */
import { writeFile } from 'node:fs/promises'
import { importMeshConfig } from '@weft/traffic'
import type { Command } from 'commander'
import { readNamedFile } from '../flags.js'

export interface ImportFlags {
  out?: string
  json?: boolean
}

/**
 * Exit codes: 0 when everything translated, 2 when some fields did not (the policy is still written);
 * input that cannot be read (not YAML, too large, a translation the policy refuses) rejects, and
 * the `weft` command prints the message and exits 1.
 */
export const IMPORT_EXIT = { complete: 0, partial: 2 } as const

export function registerImport(program: Command): void {
  program
    .command('import')
    .description(
      'translate Istio (VirtualService, DestinationRule, PeerAuthentication, AuthorizationPolicy), Gateway API HTTPRoute and SMI files into a weft policy; exit 2 when some fields did not translate',
    )
    .argument('<files...>', 'YAML files, each with one or more resources')
    .option('--out <file>', 'write the policy here instead of standard output')
    .option('--json', 'print { document, untranslated, warnings } as JSON on stdout (with --out, the policy YAML still goes to the file)')
    .action(async (files: string[], flags: ImportFlags) => {
      process.exitCode = await runImport(files, flags)
    })
}

/** Runs the import; resolves to the exit code. */
export async function runImport(
  files: readonly string[],
  flags: ImportFlags,
  out: (text: string) => void = (t) => process.stdout.write(t),
  err: (text: string) => void = (t) => process.stderr.write(t),
): Promise<number> {
  const texts = await Promise.all(files.map((f) => readNamedFile('weft import:', f)))
  const result = importMeshConfig(texts, { names: files })
  const code = result.untranslated.length > 0 ? IMPORT_EXIT.partial : IMPORT_EXIT.complete
  // --out gets the policy YAML whatever is printed, so `--json --out mesh.yaml` is a policy file plus a report
  if (flags.out !== undefined) await writeFile(flags.out, result.yaml)
  if (flags.json) {
    out(`${JSON.stringify({ document: result.document, untranslated: result.untranslated, warnings: result.warnings }, null, 2)}\n`)
    return code
  }
  if (flags.out === undefined) out(result.yaml)
  for (const n of result.untranslated) err(`× not translated: ${n.source} ${n.path}: ${n.reason}\n`)
  for (const n of result.warnings) err(`‼ check: ${n.source} ${n.path}: ${n.reason}\n`)
  return code
}
