import { describe, expect, it } from 'vitest'
import { buildStack, type Call, compose, describeStack, type Handler, layer, type Middleware, type Reply } from '../src/index.js'
import { fakeCall, okReply } from './helpers.js'

const tag =
  (name: string, log: string[]): Middleware =>
  (next) =>
  async (call) => {
    log.push(`>${name}`)
    const reply = await next(call)
    log.push(`<${name}`)
    return reply
  }

describe('compose', () => {
  it('runs the first middleware outermost', async () => {
    const log: string[] = []
    const terminal: Handler = async () => {
      log.push('h')
      return okReply()
    }
    await compose(tag('a', log), tag('b', log), tag('c', log))(terminal)(fakeCall())
    expect(log).toEqual(['>a', '>b', '>c', 'h', '<c', '<b', '<a'])
  })

  it('turns a synchronous throw into a rejection', async () => {
    const throwing: Middleware = () => () => {
      throw new Error('boom')
    }
    const handler = compose(throwing)(async () => okReply())
    let result: Promise<Reply> | undefined
    expect(() => {
      result = handler(fakeCall())
    }).not.toThrow()
    await expect(result).rejects.toThrow('boom')
  })

  it('builds each layer once, not per call', async () => {
    let builds = 0
    const counting: Middleware = (next) => {
      builds++
      return (call) => next(call)
    }
    const handler = compose(counting)(async () => okReply())
    for (let i = 0; i < 5; i++) await handler(fakeCall())
    expect(builds).toBe(1)
  })
})

describe('stacks as data', () => {
  const seen: string[] = []
  const layers = [
    layer('outer', 'first, so it sees everything', () => (next) => (call: Call) => {
      seen.push('outer')
      return next(call)
    }),
    layer('skipped', 'off in this stack', () => undefined),
    layer('inner', 'last before the terminal', () => (next) => (call: Call) => {
      seen.push('inner')
      return next(call)
    }),
  ]

  it('lists the roles present, outermost first, and leaves out disabled layers', async () => {
    const stack = buildStack(layers, {}, async () => okReply())
    expect(stack.roles).toEqual(['outer', 'inner'])
    await stack.handler(fakeCall())
    expect(seen).toEqual(['outer', 'inner'])
  })

  it('describes every layer with the reason for its place', () => {
    expect(describeStack(layers).map((l) => l.role)).toEqual(['outer', 'skipped', 'inner'])
    expect(describeStack(layers)[0]?.why).toBe('first, so it sees everything')
  })
})
