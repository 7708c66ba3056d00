/** Calls, replies and a scripted "network" for driving the metrics layers with the real retry layer. */
import { spawnSync } from 'node:child_process'
import type { Call, HeaderMap, Reply } from '@weft/core'
import { expect } from 'vitest'

export function outboundCall(patch: Partial<Call> = {}): Call {
  return {
    direction: 'outbound',
    service: 'payments',
    method: 'GET',
    path: '/charge',
    authority: 'payments',
    headers: Object.assign(Object.create(null), { host: 'payments' }) as HeaderMap,
    body: null,
    replayable: true,
    signal: undefined,
    deadline: undefined,
    attempt: 1,
    route: 'charge',
    subset: undefined,
    endpoint: undefined,
    tried: [],
    trace: undefined,
    peer: undefined,
    startedAt: performance.now(),
    ...patch,
  }
}

export function reply(status: number): Reply {
  return { status, headers: {}, body: undefined }
}

/** An inner handler answering each try with the next scripted status (or throwing the scripted error). */
export function scripted(outcomes: (number | Error)[]): ((call: Call) => Promise<Reply>) & { tries: Call[] } {
  const tries: Call[] = []
  const handler = async (call: Call) => {
    tries.push(call)
    const next = outcomes.shift()
    if (next === undefined) throw new Error('script ran out')
    if (next instanceof Error) throw next
    return reply(next)
  }
  return Object.assign(handler, { tries })
}

/** The value of one series in Prometheus text, matched by metric name and labels. */
export function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const wanted = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))
    if (wanted) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return undefined
}

/** Runs Debian's promtool over an exposition; fails loudly when promtool is not installed. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (run.error !== undefined)
    expect.fail(`promtool is needed for this test (Debian package prometheus, listed in .ci/apt-packages): ${run.error.message}`)
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() }
}
