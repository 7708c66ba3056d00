/** Endpoint sources: static, DNS, file and control plane. */
export {}
