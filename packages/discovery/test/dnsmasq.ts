/** A real dnsmasq on 127.0.0.1 and a random high port, answering from a hosts file the test controls. */
import { type ChildProcess, spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const BINARY = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'].find((p) => existsSync(p))

export interface Dnsmasq {
  /** `127.0.0.1:port`, for `resolver:`. */
  readonly address: string
  /** Replaces the hosts file (`ip name` lines) and has dnsmasq reread it. */
  setHosts(lines: string): Promise<void>
  stop(): Promise<void>
}

/** Starts dnsmasq; fails loudly when it is not installed (`.ci/apt-packages` lists it). */
export async function startDnsmasq(options: { hosts: string; ttl: number; extra?: string[] }): Promise<Dnsmasq> {
  if (BINARY === undefined)
    throw new Error('dnsmasq is not installed: apt-get install -y dnsmasq (CI installs what .ci/apt-packages lists)')
  // a port free a moment ago can be taken before dnsmasq binds it: try a few
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(BINARY, options)
    } catch (err) {
      if (attempt >= 5 || !/Address already in use/.test(String(err))) throw err
    }
  }
}

async function start(binary: string, options: { hosts: string; ttl: number; extra?: string[] }): Promise<Dnsmasq> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-dnsmasq-'))
  await chmod(dir, 0o755) // dnsmasq drops to an unprivileged user before it reads the file
  const hostsFile = join(dir, 'hosts')
  await writeFile(hostsFile, options.hosts, { mode: 0o644 })
  const port = await freePort()
  const child: ChildProcess = spawn(
    binary,
    [
      '--no-daemon',
      '--no-resolv',
      '--no-hosts',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--addn-hosts=${hostsFile}`,
      `--local-ttl=${options.ttl}`,
      '--pid-file=',
      '--log-facility=-',
      '--log-queries',
      ...(options.extra ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let log = ''
  const waiters: { re: RegExp; from: number; resolve: () => void }[] = []
  const onData = (chunk: Buffer) => {
    log += chunk.toString()
    for (const w of waiters.splice(0)) {
      if (w.re.test(log.slice(w.from))) w.resolve()
      else waiters.push(w)
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const waitFor = (re: RegExp, from: number) =>
    new Promise<void>((resolve, reject) => {
      if (re.test(log.slice(from))) return resolve()
      waiters.push({ re, from, resolve })
      exited.then(() => reject(new Error(`dnsmasq exited before ${re}:\n${log}`)))
    })
  try {
    await waitFor(/read .*hosts - \d+ names/, 0)
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    address: `127.0.0.1:${port}`,
    async setHosts(lines) {
      const from = log.length
      await writeFile(hostsFile, lines, { mode: 0o644 })
      child.kill('SIGHUP')
      await waitFor(/read .*hosts - \d+ names/, from)
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** A port free for both UDP and TCP a moment ago (dnsmasq binds both), below Linux's ephemeral range. */
async function freePort(): Promise<number> {
  for (;;) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000)
    if ((await udpFree(candidate)) && (await tcpFree(candidate))) return candidate
  }
}

async function udpFree(port: number): Promise<boolean> {
  const socket = createSocket('udp4')
  const ok = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false))
    socket.bind(port, '127.0.0.1', () => resolve(true))
  })
  await new Promise<void>((resolve) => socket.close(() => resolve()))
  return ok
}

async function tcpFree(port: number): Promise<boolean> {
  const server = createServer()
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => resolve(true))
  })
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()))
  return ok
}
