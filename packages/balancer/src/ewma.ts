/**
 * Peak-EWMA with power of two choices (Finagle's and Linkerd's default): each endpoint's cost is
 * its latency estimate times (in-flight + 1); of two endpoints drawn at random the cheaper wins. A
 * slower response raises the estimate at once; faster ones pull it down over `decay`; an idle
 * endpoint's estimate decays towards zero, so a recovered endpoint is tried again.
 *
 * A pick compares logarithms: ln(estimate) + ln(in-flight + 1), where ln(estimate) is the endpoint's
 * score (`scoreOf`) less now / decay, a term every endpoint shares at one moment. So a pick takes no
 * exponential: two scores, two counts, two table lookups. Every estimate counts as at least 1 µs
 * (ln 10⁻³ ms, the `floor`), so that between long-idle endpoints, whose estimates have decayed to
 * nothing, the calls in flight decide.
 */
import type { EndpointState } from './endpoint-state.js'
import { EMPTY_PICKER, NOW, ONLY_PICKER, type Picker, type PickInput } from './picker.js'
import { randomIndex } from './random.js'

export function ewma(endpoints: readonly EndpointState[], decay: number, input: PickInput): Picker {
  const n = endpoints.length
  if (n <= 1) return n === 1 ? ONLY_PICKER : EMPTY_PICKER
  const { inFlight, score } = (endpoints[0] as EndpointState).hot
  const slots = slotsOf(endpoints)
  return {
    pick() {
      const floor = FLOOR + (input[NOW] as number) / decay
      const i = randomIndex(n)
      let j = randomIndex(n - 1)
      if (j >= i) j++
      const a = slots === undefined ? i : (slots[i] as number)
      const b = slots === undefined ? j : (slots[j] as number)
      // both candidates' loads before either cost, so that their cache misses overlap
      const scoreI = score[a] as number
      const inFlightI = inFlight[a] as number
      const scoreJ = score[b] as number
      const inFlightJ = inFlight[b] as number
      const costI = (scoreI > floor ? scoreI : floor) + lnCount(inFlightI)
      const costJ = (scoreJ > floor ? scoreJ : floor) + lnCount(inFlightJ)
      return costJ < costI ? j : i
    },
  }
}

/** ln of the least estimate a pick counts, in ms. */
const FLOOR = Math.log(1e-3)

/** ln(k + 1) for the in-flight counts a pick usually meets: 8 KB, so a lookup stays in L1. */
const LN = Float64Array.from({ length: 1024 }, (_, k) => Math.log(k + 1))

/** ln(inFlight + 1). */
function lnCount(inFlight: number): number {
  return inFlight < LN.length ? (LN[inFlight] as number) : Math.log(inFlight + 1)
}

/**
 * Each endpoint's slot in the service's hot arrays, or `undefined` when `endpoints[k]` sits in slot
 * k (the whole service in order, none ejected): one dependent read fewer per candidate then.
 */
export function slotsOf(endpoints: readonly EndpointState[]): Int32Array | undefined {
  let inOrder = true
  for (let i = 0; i < endpoints.length; i++) if ((endpoints[i] as EndpointState).id !== i) inOrder = false
  return inOrder ? undefined : Int32Array.from(endpoints, (s) => s.id)
}

/** exp(-idle / decay), with the first-order shortcut for the short idle times of a busy endpoint. */
function decayed(idle: number, decay: number): number {
  if (idle <= 0) return 1
  const x = idle / decay
  return x < 0.01 ? 1 - x : Math.exp(-x)
}

/** The latency estimate now, in ms. */
export function estimate(s: EndpointState, now: number, decay: number): number {
  return s.rtt * decayed(now - s.stamp, decay)
}

/** Feeds one observed latency (ms) into the estimate: a peak is taken at once, a lower value blends in. */
export function observe(s: EndpointState, latency: number, now: number, decay: number): void {
  const current = s.rtt
  if (latency > current) s.setEstimate(latency, now, decay)
  else {
    const w = decayed(now - s.stamp, decay)
    s.setEstimate(current * w + latency * (1 - w), now, decay)
  }
}
