/**
 * The X.509 library, loaded on first use with the reflect polyfill it needs and Node's WebCrypto as
 * its provider. A process that never reads a certificate (no identity, plaintext only) never loads
 * it: it and its dependencies are about 10 MB of RSS.
 */
import { webcrypto } from 'node:crypto'
import { createRequire } from 'node:module'
import type * as X509 from '@peculiar/x509'

export type { X509 }

let loaded: typeof X509 | undefined

/** The library; the first call loads it (synchronously, once: at identity load, never per request). */
export function x509(): typeof X509 {
  if (loaded === undefined) {
    // synchronous, as a certificate is read at a handshake (tsup shims import.meta.url in the CJS build)
    const load = createRequire(import.meta.url)
    // @peculiar/x509 2.x needs the reflect polyfill loaded first (tsyringe throws otherwise)
    load('reflect-metadata')
    const lib = load('@peculiar/x509') as typeof X509
    lib.cryptoProvider.set(webcrypto as unknown as Crypto)
    loaded = lib
  }
  return loaded
}

/** Node's WebCrypto, typed for the DOM lib @peculiar/x509 is written against. */
export const subtle = webcrypto.subtle as unknown as SubtleCrypto

/** The PEM blocks of one kind (`CERTIFICATE`) in a text, in order. */
export function pemBlocks(text: string, label = 'CERTIFICATE'): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, 'g')
  return text.match(re) ?? []
}

/** DER bytes as PEM text. */
export function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64')
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`
}
