/** The mesh-agent: follows a control plane, validates before it applies, and keeps the last good policy. */
export type { Agent, AgentLogger, AgentOptions, AgentProblem, AgentStatus } from './agent.js'
export { AGENT_DEFAULTS, createAgent } from './agent.js'
export type { AgentIdentityOptions, CertificateStatus } from './certificates.js'
export { IDENTITY_DEFAULTS } from './certificates.js'
export type { CertificateRequest, CertificateResponse, PolicyEnvelope } from './protocol.js'
export {
  CERTIFICATES_PATH,
  CONTROL_PLANE_SPIFFE_PATH,
  etagOf,
  JSON_CONTENT_TYPE,
  POLICY_PATH,
  SERVICE_NAME,
  versionOfEtag,
} from './protocol.js'
