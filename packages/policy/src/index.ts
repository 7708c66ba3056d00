/** The weft policy document: schema, YAML/JSON parsing, validation with field paths, defaults and merging. */
export { POLICY_DEFAULTS } from './defaults.js'
export type { PolicyIssue } from './issues.js'
export { loadPolicy, type PolicyInput } from './load.js'
export { defaultServicePolicy, type ParseOptions, parsePolicy, resolveService } from './parse.js'
export type { PolicyFormat } from './read-text.js'
export { loadYaml } from './read-text.js'
export { compileRegexMatcher } from './regex-safety.js'
export type * from './types.js'
