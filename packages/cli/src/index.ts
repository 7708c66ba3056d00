/** The weft command: check, routes, tap, top, certs, import, control-plane, demo. */
export {}
