/** Helpers for the policy tests: fixtures, and the issues a document is refused with. */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { isWeftError } from '@weft/core'
import { expect } from 'vitest'
import { type ParseOptions, type PolicyIssue, parsePolicy } from '../src/index.js'

export const fixturePath = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
export const fixture = (name: string) => readFileSync(fixturePath(name), 'utf8')

/** A document with these services (and any top-level extras), as data. */
export function withServices(services: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { apiVersion: 'weft.dev/v1', ...extra, services }
}

/** A document with one service, `payments`, holding `fields`. */
export function payments(fields: Record<string, unknown>) {
  return withServices({ payments: fields })
}

/** The WEFT_POLICY_INVALID error a document is refused with; fails the test when it parses. */
export function refusal(input: string | object, options?: ParseOptions): Error & { details: { issues: PolicyIssue[]; source?: string } } {
  let parsed: unknown
  try {
    parsed = parsePolicy(input, options)
  } catch (err) {
    expect(isWeftError(err) && err.code).toBe('WEFT_POLICY_INVALID')
    return err as Error & { details: { issues: PolicyIssue[] } }
  }
  throw new Error(`expected the document to be refused, but it parsed: ${JSON.stringify(parsed).slice(0, 200)}`)
}

/** The issues a document is refused with. */
export const issuesOf = (input: string | object, options?: ParseOptions) => refusal(input, options).details.issues

/** `path: message` lines, for compact expectations. */
export const linesOf = (input: string | object, options?: ParseOptions) => issuesOf(input, options).map((i) => `${i.path}: ${i.message}`)
