/** A stack is data: ordered layers, each with a role name and the reason it stands where it does. */
import { type Handler, type Middleware, toAsync } from './compose.js'

export interface Layer<Ctx> {
  /** The role name (`trace`, `metrics`, `deadline`, `route`, `retry`, `balancer`, `transport`, …). */
  readonly role: string
  /** Why the layer stands at this place in the order; printed by the admin endpoint. */
  readonly why: string
  /** Builds the layer's per-service state once; `undefined` leaves the layer out of this stack. */
  readonly build: (ctx: Ctx) => Middleware | undefined
}

/** Declares a layer. */
export function layer<Ctx>(role: string, why: string, build: (ctx: Ctx) => Middleware | undefined): Layer<Ctx> {
  return { role, why, build }
}

export interface BuiltStack {
  readonly handler: Handler
  /** Roles of the layers present, outermost first. */
  readonly roles: readonly string[]
}

/** Builds a stack once: the first layer outermost, `terminal` innermost. */
export function buildStack<Ctx>(layers: readonly Layer<Ctx>[], ctx: Ctx, terminal: Handler): BuiltStack {
  const built: Middleware[] = []
  const roles: string[] = []
  for (const l of layers) {
    const m = l.build(ctx)
    if (m === undefined) continue
    built.push(m)
    roles.push(l.role)
  }
  let handler = terminal
  for (let i = built.length - 1; i >= 0; i--) handler = (built[i] as Middleware)(handler)
  return { handler: toAsync(handler), roles }
}

/** A stack's order as printable rows: role and reason. */
export function describeStack<Ctx>(layers: readonly Layer<Ctx>[]): { role: string; why: string }[] {
  return layers.map(({ role, why }) => ({ role, why }))
}
