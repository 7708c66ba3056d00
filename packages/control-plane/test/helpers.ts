/** Test helpers: a mesh document on disk, a real etcd on loopback, HTTP calls to the control plane. */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { onTestFinished } from 'vitest'
import { EtcdGateway } from '../src/etcd-gateway.js'

export const quiet = { warn() {}, info() {} }

export function meshYaml(port = 8081, extra = ''): string {
  return `apiVersion: weft.dev/v1\nservices:\n  payments:\n    endpoints: [ { address: 127.0.0.1:${port} } ]\n${extra}`
}

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cp-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export async function policyDir(yaml = meshYaml()): Promise<{ dir: string; write(yaml: string, name?: string): Promise<void> }> {
  const dir = await tempDir()
  const write = (text: string, name = 'mesh.yaml') => writeFile(join(dir, name), text)
  await write(yaml)
  return { dir, write }
}

export function recordingLogger() {
  const warnings: string[] = []
  return { warnings, warn: (m: string) => void warnings.push(m), info() {} }
}

export interface Answer {
  status: number
  headers: Headers
  text: string
  json(): unknown
}

/** GET with Node's fetch; never through a mesh. */
export async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, { headers, redirect: 'manual' })
  const text = await res.text()
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

function findEtcd(): string {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']) {
    const p = join(dir, 'etcd')
    if (dir !== '' && existsSync(p)) return p
  }
  throw new Error('etcd not found on PATH: install the Debian package etcd-server (it is listed in .ci/apt-packages)')
}

export interface Etcd {
  url: string
  gateway: EtcdGateway
  process: ChildProcess
  stop(): Promise<void>
}

/** Starts a real single-member etcd on loopback random ports with a temp data dir; stopped after the test. */
export async function startEtcd(): Promise<Etcd> {
  const bin = findEtcd()
  const data = await tempDir()
  const [client, peer] = [await freePort(), await freePort()]
  const url = `http://127.0.0.1:${client}`
  const peerUrl = `http://127.0.0.1:${peer}`
  const child = spawn(
    bin,
    [
      '--name=weft-test',
      `--data-dir=${join(data, 'etcd')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=weft-test=${peerUrl}`,
      '--log-level=error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  onTestFinished(stop)
  const gateway = new EtcdGateway(url)
  onTestFinished(() => gateway.close())
  const deadline = Date.now() + 15_000
  for (;;) {
    try {
      await gateway.range('/weft/ready-check', 1000)
      break
    } catch (err) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${stderr}`)
      if (Date.now() > deadline) throw new Error(`etcd did not answer on ${url} within 15s: ${(err as Error).message}\n${stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return { url, gateway, process: child, stop }
}
