/** A call and replies for driving one layer with a plain inner handler standing in for the network. */
import type { BodySink, Call, HeaderMap, Reply, ReplyBody } from '@weft/core'
import { testCall } from '@weft/core/testing'

export function outboundCall(patch: Partial<Call> = {}): Call {
  return testCall({ path: '/charge', headers: Object.assign(Object.create(null), { host: 'payments' }), ...patch })
}

export function inboundCall(headers: HeaderMap = {}, patch: Partial<Call> = {}): Call {
  return outboundCall({ direction: 'inbound', service: 'orders', headers, ...patch })
}

/** A reply body the test feeds by hand. */
export class ManualBody implements ReplyBody {
  sink: BodySink | undefined
  discarded = false

  pipe(sink: BodySink): void {
    this.sink = sink
  }
  resume(): void {}
  discard(): void {
    this.discarded = true
  }
  push(text: string): void {
    this.sink?.onData(new TextEncoder().encode(text))
  }
  end(): void {
    this.sink?.onEnd(undefined)
  }
  fail(err: Error): void {
    this.sink?.onError(err)
  }
}

export function reply(status = 200, body?: ReplyBody): Reply {
  return { status, headers: {}, body }
}

/** Reads a body to the end as text; rejects with the body's error. */
export function readBody(body: ReplyBody | undefined): Promise<string> {
  if (body === undefined) return Promise.resolve('')
  return new Promise((resolve, reject) => {
    let text = ''
    body.pipe({
      onData: (chunk) => {
        text += new TextDecoder().decode(chunk)
        return true
      },
      onEnd: () => resolve(text),
      onError: reject,
    })
  })
}

/** A promise that settles only when `signal` aborts, rejecting with its reason (a hanging upstream). */
export function hangUntilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (signal === undefined) return
    if (signal.aborted) reject(signal.reason)
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}
