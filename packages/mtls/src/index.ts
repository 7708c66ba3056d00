/** SPIFFE identities, certificate sources and rotation, the mTLS connector and server, and authorization. */
export type { AuthorizationDecision, AuthorizationOptions, AuthorizationRule, StringMatch } from './authorization.js'
export { AUTHORIZATION_DEFAULTS, authorization, describeRule } from './authorization.js'
export type { CertificateDescription } from './certificate.js'
export { describeCertificate, MIN_RSA_BITS } from './certificate.js'
export type { IssuedCertificate, IssueOptions, KeyType, Lifetime, TrustAnchor, TrustAnchorOptions } from './certificate-authority.js'
export {
  CERTIFICATE_AUTHORITY_DEFAULTS,
  createTrustAnchor,
  issueCertificate,
  loadTrustAnchor,
  parseLifetime,
  writeIdentity,
} from './certificate-authority.js'
export type { ConnectCallback, Connector, ConnectorOptions, ConnectRequest, ExpectedPeer } from './client-tls.js'
export { CONNECTOR_DEFAULTS, clientTlsOptions, createConnector, expectedPeerFor, SESSION_REUSE_MS, serverIdentityOf } from './client-tls.js'
export type { Identity, IdentityFiles, IdentityPems } from './identity.js'
export { createIdentity, MIN_TLS_VERSION, TLS_CIPHERS } from './identity.js'
export type { IdentityOptions, IdentitySource, IdentitySourceOptions } from './identity-source.js'
export { createIdentitySource, IDENTITY_FILES, IDENTITY_SOURCE_DEFAULTS } from './identity-source.js'
export type { MeshServerOptions, MeshServerStats, RefusalReason, RefusedConnection, RequestListener } from './mesh-server.js'
export { createMeshServer, emptyMeshServerStats, MESH_SERVER_DEFAULTS, meshServerStats } from './mesh-server.js'
export { normalizePath } from './path-match.js'
export type { ClientSocketVerdict } from './peer.js'
export { peerIdentityOf, peerOf, verifyClientSocket } from './peer.js'
export type { MtlsMode } from './server-tls.js'
export { secureContextOptions, serverTlsOptions } from './server-tls.js'
export type { SpiffeId, SpiffeIdRules } from './spiffe-id.js'
export {
  DEFAULT_NAMESPACE,
  MAX_SPIFFE_ID_BYTES,
  namespaceOf,
  parseSpiffeId,
  serviceSpiffeId,
  spiffeIdProblem,
  trustDomainId,
} from './spiffe-id.js'
/** @internal The X.509 library weft reads and makes certificates with, loaded on first use (the agent's CSRs). */
export { x509 } from './x509.js'
