/** `weft control-plane`: serves the policy in a folder (or in etcd) to mesh agents, and signs their certificates. */

import { stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import {
  CERTIFICATES_DEFAULTS,
  type ControlPlane,
  type ControlPlaneOptions,
  createControlPlane,
  etcdStore,
  type StoreLogger,
} from '@weft/control-plane'
import { isWeftError } from '@weft/core'
import { loadTrustAnchor } from '@weft/mtls'
import type { Command } from 'commander'
import { durationFlag, readNamedFile } from '../flags.js'

export interface ControlPlaneFlags {
  dir?: string
  etcd?: string
  etcdPrefix: string
  port: string
  host: string
  anchorCert?: string
  anchorKey?: string
  bootstrapTokens?: string
  certLifetime?: string
}

export function registerControlPlane(program: Command): void {
  program
    .command('control-plane')
    .description('serve the mesh policy to agents (GET /v1/policy, long polls with ETags); from a folder or from etcd')
    .option('--dir <folder>', 'a folder holding mesh.yaml or mesh.json (the whole mesh document), watched for changes')
    .option('--etcd <urls>', 'etcd client URLs, comma-separated; the document is the key <prefix>mesh')
    .option('--etcd-prefix <prefix>', 'key prefix of this mesh in etcd', '/weft/')
    .option('--port <port>', 'port to listen on (0 for any)', '7700')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--anchor-cert <file>', "the trust anchor's certificate (PEM): turns on certificate issuing and HTTPS")
    .option('--anchor-key <file>', "the trust anchor's private key (PEM)")
    .option('--bootstrap-tokens <file>', 'a JSON file { "<token>": "<service>" } of tokens for first certificates')
    .option('--cert-lifetime <duration>', 'lifetime of issued certificates', '24h')
    .action(async (flags: ControlPlaneFlags) => {
      const cp = await runControlPlane(flags)
      const stop = () => {
        cp.close().then(
          () => process.exit(0),
          () => process.exit(1),
        )
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
}

/**
 * Starts the control plane the flags describe; the command keeps it running until a signal. Where it
 * listens is the control plane's own line to `logger` (default: the console), so it is said once.
 */
export async function runControlPlane(flags: ControlPlaneFlags, logger?: StoreLogger): Promise<ControlPlane> {
  if ((flags.dir === undefined) === (flags.etcd === undefined))
    throw new Error('weft control-plane: give exactly one of --dir <folder> and --etcd <urls>')
  const port = Number(flags.port)
  if (!/^\d{1,5}$/.test(flags.port) || port > 65_535) throw new Error(`weft control-plane: --port must be a port number, got ${flags.port}`)
  const options: ControlPlaneOptions = { port, host: flags.host, logger }
  // the document itself is the likely slip; a folder that does not exist yet is waited for, as documented
  if (flags.dir !== undefined && (await stat(flags.dir).catch(() => undefined))?.isFile())
    throw new Error(`weft control-plane: --dir takes the folder holding the document, not the file: --dir ${dirname(flags.dir)}`)
  if (flags.dir !== undefined) options.dir = flags.dir
  else options.store = etcdStore({ endpoints: (flags.etcd as string).split(',').map((u) => u.trim()), prefix: flags.etcdPrefix })
  if ((flags.anchorCert === undefined) !== (flags.anchorKey === undefined))
    throw new Error('weft control-plane: --anchor-cert and --anchor-key go together')
  const lifetime = durationFlag('weft control-plane: --cert-lifetime', flags.certLifetime)
  if (flags.anchorCert !== undefined && flags.anchorKey !== undefined) {
    const anchor = loadTrustAnchor({
      cert: await readNamedFile('weft control-plane: --anchor-cert', flags.anchorCert),
      key: await readNamedFile('weft control-plane: --anchor-key', flags.anchorKey),
    })
    // unchecked here: createControlPlane refuses tokens of the wrong shape, and startError names the file
    const bootstrapTokens = (flags.bootstrapTokens === undefined ? {} : await readTokens(flags.bootstrapTokens)) as Record<string, string>
    options.certificates = { anchor, bootstrapTokens, lifetime: lifetime ?? CERTIFICATES_DEFAULTS.lifetime }
  }
  return createControlPlane(options).catch((err: unknown) => {
    throw startError(err, flags)
  })
}

/** Why the control plane could not start, named by the flag to change; any other error as it came. */
function startError(err: unknown, flags: ControlPlaneFlags): unknown {
  const at = `${flags.host}:${flags.port}`
  // the library checks the tokens (and names the entry, never the token); the user knows them as a file
  if (isWeftError(err) && err.details.option === 'certificates.bootstrapTokens')
    return new Error(`weft control-plane: --bootstrap-tokens ${flags.bootstrapTokens}: ${err.details.problem}`, { cause: err })
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'EADDRINUSE':
      return new Error(`weft control-plane: --port ${flags.port}: ${at} is already in use; give another port, or 0 for any`, { cause: err })
    case 'EACCES':
      return new Error(`weft control-plane: --port ${flags.port}: not allowed to listen on ${at} (ports below 1024 need privileges)`, {
        cause: err,
      })
    case 'EADDRNOTAVAIL':
      return new Error(`weft control-plane: --host ${flags.host}: not an address of this machine`, { cause: err })
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new Error(`weft control-plane: --host ${flags.host}: no such host name`, { cause: err })
    default:
      return err
  }
}

/** The `--bootstrap-tokens` file as JSON; what it must hold is `createControlPlane`'s to check. */
async function readTokens(path: string): Promise<unknown> {
  const text = await readNamedFile('weft control-plane: --bootstrap-tokens', path)
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new Error(`weft control-plane: --bootstrap-tokens ${path}: not JSON (${(err as Error).message})`)
  }
}
