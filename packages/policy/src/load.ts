/** loadPolicy: a policy from data, from YAML/JSON text, or from a file path resolved against the working directory. */
import { open } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { POLICY_DEFAULTS } from './defaults.js'
import { policyInvalid } from './issues.js'
import { type ParseOptions, parsePolicy } from './parse.js'
import { formatBytes, type PolicyFormat, sizeIssue } from './read-text.js'
import type { Policy } from './types.js'

/** A policy as `createMesh` and `mesh.update` take it: an object, a path to a .yaml/.yml/.json file, or YAML/JSON text. */
export type PolicyInput = string | object

/** True for a string that is a document rather than a path: it has a newline, or starts with `{` or `apiVersion`. */
export function looksLikeText(input: string): boolean {
  const start = input.trimStart()
  return input.includes('\n') || start.startsWith('{') || start.startsWith('apiVersion')
}

/**
 * Loads and validates a policy. Text and objects go straight to `parsePolicy`; any other string is
 * a path, resolved against `process.cwd()`, whose size is checked before it is read. Rejects with
 * `WEFT_POLICY_INVALID` (an unreadable file included), naming the file. A policy read from a file
 * carries its absolute path as `file`.
 */
export async function loadPolicy(input: PolicyInput, options: ParseOptions = {}): Promise<Policy> {
  if (typeof input !== 'string' || looksLikeText(input)) return parsePolicy(input, options)
  const path = resolve(process.cwd(), input)
  const source = options.source ?? input
  const maxBytes = options.maxBytes ?? POLICY_DEFAULTS.limits.maxBytes
  const text = await readLimited(path, source, maxBytes)
  const policy = parsePolicy(text, { ...options, source, format: options.format ?? formatOf(path) })
  return Object.freeze({ ...policy, file: path })
}

function formatOf(path: string): PolicyFormat | undefined {
  const ext = extname(path).toLowerCase()
  if (ext === '.json') return 'json'
  if (ext === '.yaml' || ext === '.yml') return 'yaml'
  return undefined // sniffed from the text
}

/** Reads a file of at most `maxBytes`: the size is checked before reading, and again on what was read (the file may grow). */
async function readLimited(path: string, source: string, maxBytes: number): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(path, 'r')
    const stat = await handle.stat()
    if (!stat.isFile()) throw policyInvalid([{ segments: [], message: `${path} is not a file` }], source)
    const tooBig = sizeIssue(stat.size, maxBytes)
    if (tooBig !== undefined) throw policyInvalid([tooBig], source)
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1)
    let length = 0
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
    }
    if (length > maxBytes)
      throw policyInvalid(
        [{ segments: [], message: `document grew past the limit of ${maxBytes} bytes (${formatBytes(maxBytes)}) while being read` }],
        source,
      )
    return buffer.subarray(0, length).toString('utf8')
  } catch (err) {
    if ((err as { code?: string }).code === 'WEFT_POLICY_INVALID') throw err
    const code = (err as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (err as Error).message
    throw policyInvalid([{ segments: [], message: `cannot read ${path}: ${why}` }], source, err)
  } finally {
    await handle?.close()
  }
}
