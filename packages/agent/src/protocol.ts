/** The control plane protocol as both ends speak it: paths, the policy envelope, ETags and the certificate request. */

/** `GET /v1/policy?service=NAME[&wait=30s]`, with `If-None-Match` for a long poll. */
export const POLICY_PATH = '/v1/policy'
/** `POST /v1/certificates` with a {@link CertificateRequest}; answers a {@link CertificateResponse}. */
export const CERTIFICATES_PATH = '/v1/certificates'
/** The one content type either end accepts for a body. */
export const JSON_CONTENT_TYPE = 'application/json'

/**
 * The body of a 200 from `GET /v1/policy`. The document is the whole mesh's (see docs/control-plane.md:
 * the document does not say who calls whom, so every service gets every service); `service` echoes the
 * query so an agent can refuse an answer meant for someone else, and `version` equals the ETag.
 */
export interface PolicyEnvelope {
  service: string
  version: string
  /** The validated policy document (its input shape, as JSON), before defaults. */
  document: unknown
}

/** The body of `POST /v1/certificates`. */
export interface CertificateRequest {
  /** A PEM PKCS#10 request whose only URI SAN is the SPIFFE ID asked for. */
  csr: string
}

/** What `POST /v1/certificates` answers. */
export interface CertificateResponse {
  /** The leaf certificate, PEM. */
  cert: string
  /** The trust bundle (the mesh's root certificates), PEM. */
  bundle: string
  /** The SPIFFE ID in the certificate. */
  identity: string
  /** Validity, epoch milliseconds. */
  notBefore: number
  notAfter: number
}

/** A version as a strong ETag: `"v"`. */
export function etagOf(version: string): string {
  return `"${version}"`
}

/** The version inside a strong or weak ETag, or `undefined` for something that is not one. */
export function versionOfEtag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined
  const m = /^(?:W\/)?"([\x21\x23-\x7e]{1,128})"$/.exec(etag.trim())
  return m?.[1]
}

/** The path of the control plane's own SPIFFE ID (`spiffe://<trust domain>/ns/weft-system/sa/control-plane`): what an agent checks over HTTPS. */
export const CONTROL_PLANE_SPIFFE_PATH = '/ns/weft-system/sa/control-plane'

/** Service names the protocol carries: what a host name label allows, dots included. */
export const SERVICE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/
