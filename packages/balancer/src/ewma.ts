/**
 * Peak-EWMA with power of two choices (Finagle's and Linkerd's default): each endpoint's cost is
 * its latency estimate times (in-flight + 1); of two endpoints drawn at random the cheaper wins. A
 * slower response raises the estimate at once; faster ones pull it down over `decay`; an idle
 * endpoint's estimate decays towards zero, so a recovered endpoint is tried again.
 */
import type { EndpointState } from './endpoint-state.js'
import type { Picker } from './picker.js'

export function ewma(endpoints: readonly EndpointState[], decay: number): Picker {
  const n = endpoints.length
  if (n <= 1) return { pick: () => endpoints[0] }
  return {
    pick(now) {
      const i = (Math.random() * n) | 0
      let j = (Math.random() * (n - 1)) | 0
      if (j >= i) j++
      const a = endpoints[i] as EndpointState
      const b = endpoints[j] as EndpointState
      return cost(b, now, decay) < cost(a, now, decay) ? b : a
    },
  }
}

/** Latency estimate (decayed for idle time) × (in-flight + 1). */
export function cost(s: EndpointState, now: number, decay: number): number {
  const idle = now - s.stamp
  const rtt = idle > 0 ? s.rtt * Math.exp(-idle / decay) : s.rtt
  return (rtt + 1e-3) * (s.inFlight + 1)
}

/** The latency estimate now, in ms. */
export function estimate(s: EndpointState, now: number, decay: number): number {
  const idle = now - s.stamp
  return idle > 0 ? s.rtt * Math.exp(-idle / decay) : s.rtt
}

/** Feeds one observed latency (ms) into the estimate: a peak is taken at once, a lower value blends in. */
export function observe(s: EndpointState, rtt: number, now: number, decay: number): void {
  const elapsed = now - s.stamp
  if (rtt > s.rtt) s.rtt = rtt
  else {
    const w = elapsed > 0 ? Math.exp(-elapsed / decay) : 1
    s.rtt = s.rtt * w + rtt * (1 - w)
  }
  s.stamp = now
}
