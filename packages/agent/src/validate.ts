/** Validation before apply: a document from the control plane or the cache becomes a Policy only through @weft/policy. */
import { type Policy, parsePolicy } from '@weft/policy'

/** Validates a document (its input shape) and stamps it with the control plane's version; throws WEFT_POLICY_INVALID with field paths. */
export async function validateDocument(document: unknown, version: string, source?: string): Promise<Policy> {
  return parsePolicy(document as object, { version, ...(source === undefined ? {} : { source }) })
}
