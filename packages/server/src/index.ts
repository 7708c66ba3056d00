/** The inbound stack and its adapters for node:http, Express and Fastify; the admin endpoint. */
export {}
