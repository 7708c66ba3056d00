import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { Client, Pool, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createConnector, createIdentitySource, createMeshServer, writeIdentity } from '../src/index.js'
import { id, listen, svid } from './helpers.js'

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'weft-rotation-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

interface Seen {
  status: number
  server: string
  client: string
  fresh: boolean
  after: boolean
}

describe('certificate rotation', () => {
  it('replacing the files during a stream of requests fails none; new connections present the new certificates', async () => {
    const serverDir = await tempDir()
    const clientDir = await tempDir()
    const oldServer = await svid('payments')
    const oldClient = await svid('checkout')
    await writeIdentity(serverDir, oldServer)
    await writeIdentity(clientDir, oldClient)
    const serverIdentity = await createIdentitySource({ dir: serverDir }, { watch: false })
    const clientIdentity = await createIdentitySource({ dir: clientDir }, { watch: false })

    // the handler reports the certificates this connection's handshake used, on both sides
    const server = createMeshServer(
      (req, res) => {
        const socket = req.socket as TLSSocket
        res.end(
          JSON.stringify({
            server: (socket.getCertificate() as { serialNumber?: string } | null)?.serialNumber,
            client: socket.getPeerCertificate().serialNumber,
          }),
        )
      },
      { identity: serverIdentity, mode: 'STRICT' },
    )
    const { port } = await listen(server)
    const origin = `https://127.0.0.1:${port}`
    const connect = createConnector(clientIdentity, id('payments'))
    const pool = new Pool(origin, { connect, connections: 4 })
    onTestFinished(() => pool.destroy())

    const newServer = await svid('payments')
    const newClient = await svid('checkout')
    let rotated = false
    let rotation: Promise<unknown> | undefined
    const seen: Seen[] = []

    async function one(i: number) {
      const after = rotated
      // every fifth request opens a new connection; the rest reuse the pool's keep-alive connections
      const fresh = i % 5 === 0
      const dispatcher = fresh ? new Client(origin, { connect }) : pool
      try {
        const res = await request(`${origin}/charge/${i}`, { dispatcher })
        const body = (await res.body.json()) as { server: string; client: string }
        seen.push({ status: res.statusCode, ...body, fresh, after })
      } finally {
        if (fresh) await (dispatcher as Client).close()
      }
      if (i === 60) {
        rotation = Promise.all([writeIdentity(serverDir, newServer), writeIdentity(clientDir, newClient)])
          .then(() => Promise.all([serverIdentity.reload(), clientIdentity.reload()]))
          .then(() => {
            rotated = true
          })
      }
    }

    let next = 0
    const total = 240
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < total) await one(next++)
      }),
    )
    await rotation

    expect(seen).toHaveLength(total)
    expect(seen.filter((s) => s.status !== 200)).toEqual([])
    const freshAfter = seen.filter((s) => s.fresh && s.after)
    expect(freshAfter.length).toBeGreaterThan(0)
    for (const s of freshAfter) expect([s.server, s.client]).toEqual([newServer.serialNumber, newClient.serialNumber])
    const freshBefore = seen.filter((s) => s.fresh && !s.after)
    for (const s of freshBefore.slice(0, 5)) expect([s.server, s.client]).toEqual([oldServer.serialNumber, oldClient.serialNumber])
    // keep-alive connections opened before the rotation carried on undisturbed with the old certificates
    expect(seen.some((s) => !s.fresh && s.after && s.server === oldServer.serialNumber)).toBe(true)
    expect(serverIdentity.current().serialNumber).toBe(newServer.serialNumber)
  })

  it('a rotation to a bad certificate is not applied: the server keeps presenting the old one', async () => {
    const dir = await tempDir()
    const good = await svid('payments')
    await writeIdentity(dir, good)
    const identity = await createIdentitySource({ dir }, { watch: false })
    const server = createMeshServer(
      (req, res) => {
        res.end(((req.socket as TLSSocket).getCertificate() as { serialNumber?: string } | null)?.serialNumber)
      },
      { identity, mode: 'STRICT' },
    )
    const { port } = await listen(server)

    await writeIdentity(dir, await svid('payments', { notBefore: new Date(Date.now() - 7_200_000), lifetime: '1h' }))
    await expect(identity.reload()).rejects.toThrow(/has expired/)

    const client = new Client(`https://127.0.0.1:${port}`, {
      connect: createConnector(await createIdentitySource(await svid('checkout')), id('payments')),
    })
    onTestFinished(() => client.destroy())
    const res = await request(`https://127.0.0.1:${port}/`, { dispatcher: client })
    expect(await res.body.text()).toBe(good.serialNumber)
  })
})
