/** Certificate issuing for the control plane: authenticates the caller, checks its CSR, signs with the trust anchor. */
import type http from 'node:http'
import type https from 'node:https'
import type { Clock } from '@weft/core'

export interface CertificateAuthorityOptions {
  /** placeholder until @weft/mtls lands */
  lifetime?: string
}

export interface CertificateAuthority {
  serverOptions(): https.ServerOptions
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>
  counts(): { issued: number; refused: number }
}

export async function createCertificateAuthority(_options: CertificateAuthorityOptions, _clock: Clock): Promise<CertificateAuthority> {
  throw new Error('certificate issuing needs @weft/mtls')
}
