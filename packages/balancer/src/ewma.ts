/**
 * Peak-EWMA with power of two choices (Finagle's and Linkerd's default): each endpoint's cost is
 * its latency estimate times (in-flight + 1); of two endpoints drawn at random the cheaper wins. A
 * slower response raises the estimate at once; faster ones pull it down over `decay`; an idle
 * endpoint's estimate decays towards zero, so a recovered endpoint is tried again.
 */
import { type EndpointState, RTT, STAMP } from './endpoint-state.js'
import { EMPTY_PICKER, ONLY_PICKER, type Picker } from './picker.js'
import { randomIndex } from './random.js'

export function ewma(endpoints: readonly EndpointState[], decay: number): Picker {
  const n = endpoints.length
  if (n <= 1) return n === 1 ? ONLY_PICKER : EMPTY_PICKER
  const { inFlight, latency } = (endpoints[0] as EndpointState).hot
  const cost = (id: number, now: number) =>
    ((latency[id * 2 + RTT] as number) * decayed(now - (latency[id * 2 + STAMP] as number), decay) + 1e-3) * ((inFlight[id] as number) + 1)
  if (inSlotOrder(endpoints)) {
    // every endpoint of the service, none ejected: the index is the slot, one memory read fewer per candidate
    return {
      pick(now) {
        const i = randomIndex(n)
        let j = randomIndex(n - 1)
        if (j >= i) j++
        return cost(j, now) < cost(i, now) ? j : i
      },
    }
  }
  const slots = Int32Array.from(endpoints, (s) => s.id)
  return {
    pick(now) {
      const i = randomIndex(n)
      let j = randomIndex(n - 1)
      if (j >= i) j++
      return cost(slots[j] as number, now) < cost(slots[i] as number, now) ? j : i
    },
  }
}

/** True when `endpoints[i]` sits in slot i: the whole service in order. */
export function inSlotOrder(endpoints: readonly EndpointState[]): boolean {
  for (let i = 0; i < endpoints.length; i++) if ((endpoints[i] as EndpointState).id !== i) return false
  return true
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
