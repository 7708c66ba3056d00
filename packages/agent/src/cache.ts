/**
 * The on-disk copy of the last good policy, so a restart works while the control plane is down.
 * Writes are atomic (a temporary file in the same directory, then rename); a file that cannot be read
 * back as a valid envelope for this service is reported and ignored.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { PolicyEnvelope } from './protocol.js'

/** What the cache file holds: the envelope as the control plane sent it, and when it was saved. */
export interface CachedPolicy extends PolicyEnvelope {
  savedAt: number
}

export type CacheRead = { ok: true; cached: CachedPolicy } | { ok: false; missing: boolean; reason: string }

/** Reads the cache; never throws. */
export async function readCache(path: string, service: string, maxBytes: number): Promise<CacheRead> {
  let text: string
  try {
    const bytes = await readFile(path)
    if (bytes.length > maxBytes)
      return { ok: false, missing: false, reason: `cache file ${path} is ${bytes.length} bytes, over the limit of ${maxBytes}` }
    text = bytes.toString('utf8')
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
    return { ok: false, missing, reason: `cache file ${path} could not be read: ${(err as Error).message}` }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return { ok: false, missing: false, reason: `cache file ${path} is not JSON: ${(err as Error).message}` }
  }
  const v = value as Partial<CachedPolicy> | null
  if (typeof v !== 'object' || v === null || typeof v.version !== 'string' || typeof v.service !== 'string' || !('document' in v))
    return { ok: false, missing: false, reason: `cache file ${path} is not a weft policy cache (no service, version or document)` }
  if (v.service !== service)
    return {
      ok: false,
      missing: false,
      reason: `cache file ${path} holds the policy of service ${JSON.stringify(v.service)}, not ${JSON.stringify(service)}`,
    }
  return {
    ok: true,
    cached: { service: v.service, version: v.version, document: v.document, savedAt: typeof v.savedAt === 'number' ? v.savedAt : 0 },
  }
}

/** Writes the cache atomically: readers see the old file or the new one, never half of one. */
export async function writeCache(path: string, cached: CachedPolicy): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(tmp, `${JSON.stringify(cached)}\n`, { mode: 0o600, flush: true })
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}
