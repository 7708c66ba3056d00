/**
 * Peak-EWMA with power of two choices (Finagle's and Linkerd's default): each endpoint's cost is
 * its latency estimate times (in-flight + 1); of two endpoints drawn at random the cheaper wins. A
 * slower response raises the estimate at once; faster ones pull it down over `decay`; an idle
 * endpoint's estimate decays towards zero, so a recovered endpoint is tried again.
 */
import { type EndpointState, IN_FLIGHT, RTT, STAMP, STRIDE } from './endpoint-state.js'
import { EMPTY_PICKER, ONLY_PICKER, type Picker } from './picker.js'
import { randomIndex } from './random.js'

export function ewma(endpoints: readonly EndpointState[], decay: number): Picker {
  const n = endpoints.length
  if (n <= 1) return n === 1 ? ONLY_PICKER : EMPTY_PICKER
  const data = (endpoints[0] as EndpointState).hot.data
  const slots = Int32Array.from(endpoints, (s) => s.id * STRIDE)
  return {
    pick(now) {
      const i = randomIndex(n)
      let j = randomIndex(n - 1)
      if (j >= i) j++
      const a = slots[i] as number
      const b = slots[j] as number
      const costA =
        ((data[a + RTT] as number) * decayed(now - (data[a + STAMP] as number), decay) + 1e-3) * ((data[a + IN_FLIGHT] as number) + 1)
      const costB =
        ((data[b + RTT] as number) * decayed(now - (data[b + STAMP] as number), decay) + 1e-3) * ((data[b + IN_FLIGHT] as number) + 1)
      return costB < costA ? j : i
    },
  }
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
  if (latency > current) s.rtt = latency
  else {
    const w = decayed(now - s.stamp, decay)
    s.rtt = current * w + latency * (1 - w)
  }
  s.stamp = now
}
