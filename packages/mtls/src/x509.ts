/** The X.509 library, loaded once with the reflect polyfill it needs and Node's WebCrypto as its provider. */
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

// @peculiar/x509 2.x needs the reflect polyfill imported first (tsyringe throws otherwise)
x509.cryptoProvider.set(webcrypto as unknown as Crypto)

export { x509 }

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
