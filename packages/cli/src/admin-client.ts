/** What the `routes`, `top` and `tap` commands read from an admin endpoint: its metrics and its `/tap` stream. */

/** The admin URL without a trailing slash; throws a clear error for anything that is not http(s). */
export function adminUrl(input: string): string {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    throw new Error(`not a URL: ${input} (give the admin endpoint, e.g. http://127.0.0.1:9990)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`not an http(s) URL: ${input}`)
  return url.href.replace(/\/+$/, '')
}

/** GETs a path of the admin endpoint as text; throws with the status on anything but 200. */
export async function getText(base: string, path: string, timeoutMs = 5000): Promise<string> {
  let res: Response
  try {
    res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    throw unreachable(base, err, timeoutMs)
  }
  const text = await res.text()
  if (res.status !== 200) throw new Error(`${base}${path} answered ${res.status}: ${text.slice(0, 200)}`)
  return text
}

/** The one line a failed fetch becomes, as `weft check` words it: `http://127.0.0.1:9990 does not answer: ECONNREFUSED`. */
function unreachable(base: string, err: unknown, timeoutMs?: number): Error {
  if ((err as Error)?.name === 'TimeoutError') return new Error(`${base} does not answer within ${timeoutMs} ms`)
  return new Error(`${base} does not answer: ${whyFetchFailed(err)}`)
}

/** Why a fetch failed, in a word where there is one (`ECONNREFUSED`): fetch's own message is only `fetch failed`, the reason is in its cause. */
export function whyFetchFailed(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause
  if (typeof cause?.code === 'string') return cause.code
  if (typeof cause?.message === 'string') return cause.message
  return String((err as Error)?.message ?? err)
}

/** One server-sent event. */
export interface SseEvent {
  readonly event: string
  readonly data: string
}

/**
 * Reads `/tap` (with the filter as query) and calls `onEvent` for each event until `signal` aborts
 * or the server ends the stream.
 */
export async function readTap(
  base: string,
  query: Record<string, string | undefined>,
  onEvent: (e: SseEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') qs.set(k, v)
  const q = qs.toString()
  let res: Response
  try {
    res = await fetch(`${base}/tap${q === '' ? '' : `?${q}`}`, { signal })
  } catch (err) {
    if (signal.aborted) return
    throw unreachable(base, err)
  }
  if (res.status !== 200 || res.body === null) throw new Error(`${base}/tap answered ${res.status}`)
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk, { stream: true })
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        let event = 'message'
        const data: string[] = []
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim()
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
        }
        if (data.length > 0) onEvent({ event, data: data.join('\n') })
      }
    }
  } catch (err) {
    if (!signal.aborted) throw err
  }
}
