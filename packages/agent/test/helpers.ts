/** Test helpers: temp folders with a mesh document, a control plane that lies on cue, a logger that remembers. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'

/** A valid mesh document whose `payments` service has one endpoint per port given. */
export function meshYaml(ports: number[] = [8081], extra = ''): string {
  const endpoints = ports.map((p) => `{ address: 127.0.0.1:${p} }`).join(', ')
  return `apiVersion: weft.dev/v1\nservices:\n  payments:\n    endpoints: [ ${endpoints} ]\n${extra}`
}

/** The same document as a JSON value (the envelope's `document`). */
export function meshDocument(ports: number[] = [8081]): unknown {
  return { apiVersion: 'weft.dev/v1', services: { payments: { endpoints: ports.map((p) => ({ address: `127.0.0.1:${p}` })) } } }
}

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-agent-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A folder holding `mesh.yaml`; returns its path and a function that rewrites the file. */
export async function policyDir(yaml = meshYaml()): Promise<{ dir: string; write(yaml: string): Promise<void> }> {
  const dir = await tempDir()
  const write = (text: string) => writeFile(join(dir, 'mesh.yaml'), text)
  await write(yaml)
  return { dir, write }
}

export interface Recorded {
  warnings: string[]
  warn(message: string): void
  info(message: string): void
}

export function recordingLogger(): Recorded {
  const warnings: string[] = []
  return { warnings, warn: (m) => warnings.push(m), info: () => {} }
}

export type Script = (req: IncomingMessage, res: ServerResponse, n: number) => void

/** A server that answers request n with `script(req, res, n)`: the control plane that lies. */
export async function scriptedServer(
  script: Script,
): Promise<{ url: string; port: number; requests: IncomingMessage[]; server: Server; close(): Promise<void> }> {
  const requests: IncomingMessage[] = []
  const server = createServer((req, res) => {
    requests.push(req)
    script(req, res, requests.length)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  onTestFinished(close)
  return { url: `http://127.0.0.1:${port}`, port, requests, server, close }
}

/** Answers a good envelope for `service` at `version`. */
export function answerPolicy(res: ServerResponse, version: string, document: unknown = meshDocument(), service = 'checkout') {
  const body = JSON.stringify({ service, version, document })
  res.writeHead(200, { 'content-type': 'application/json', etag: `"${version}"` }).end(body)
}

/** Resolves after `ms` of real time; for the few tests that must let real I/O happen (never for logic under a clock). */
export function realDelay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
