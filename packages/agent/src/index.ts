/** The mesh-agent: follows a control plane and keeps the last good policy. */
export {}
