/** A real dnsmasq on 127.0.0.1 and a random high port, answering from a hosts file the test controls. */
import { type ChildProcess, spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
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
  const dir = await mkdtemp(join(tmpdir(), 'weft-dnsmasq-'))
  await chmod(dir, 0o755) // dnsmasq drops to an unprivileged user before it reads the file
  const hostsFile = join(dir, 'hosts')
  await writeFile(hostsFile, options.hosts, { mode: 0o644 })
  const port = await freeUdpPort()
  const child: ChildProcess = spawn(
    BINARY,
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
  await waitFor(/read .*hosts - \d+ names/, 0)
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

/** A UDP port that was free a moment ago, above 20000. */
async function freeUdpPort(): Promise<number> {
  for (;;) {
    const candidate = 20_000 + Math.floor(Math.random() * 40_000)
    const socket = createSocket('udp4')
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false))
      socket.bind(candidate, '127.0.0.1', () => resolve(true))
    })
    await new Promise<void>((resolve) => socket.close(() => resolve()))
    if (ok) return candidate
  }
}
