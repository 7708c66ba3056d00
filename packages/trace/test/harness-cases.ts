/**
 * The cases of the W3C trace-context test suite (`w3c/trace-context`, folder `test/`, run at
 * SPEC_LEVEL=2 STRICT_LEVEL=2), restated as data so CI guards them without the suite's code: the
 * headers the harness sends, and what it checks on the service's outbound call.
 */

export const TRACE_ID = '12345678901234567890123456789012'
export const PARENT_ID = '1234567890123456'
const TP = (flags = '01') => `00-${TRACE_ID}-${PARENT_ID}-${flags}`

/** What the harness asserts about the outbound `traceparent` and `tracestate`. */
export interface Expect {
  /** The outbound trace id must be this one. */
  sameTrace?: string
  /** The outbound trace id must differ from each of these. */
  notTrace?: string[]
  /** The outbound parent id must differ from this one. */
  notParent?: string
  /** These tracestate keys and values must be present. */
  has?: Record<string, string>
  /** These tracestate keys must be absent. */
  lacks?: string[]
  /** The tracestate must have exactly this many members. */
  size?: number
  /** The serialised tracestate must contain these in this order. */
  ordered?: string[]
  /** At least one of these must appear in the serialised tracestate. */
  oneOf?: string[]
  /** A trace flag bit that must be set (`2` is the random flag). */
  flagBit?: number
}

export interface HarnessCase {
  readonly name: string
  /** Header name and value pairs, as sent (names keep the harness's casing; repeats are separate headers). */
  readonly headers: [string, string][]
  readonly expect: Expect
}

const key256 = 'z'.repeat(256)
const allKeys = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/'
const allValue =
  Array.from({ length: 0x2b - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)).join('') +
  Array.from({ length: 0x3c - 0x2d + 1 }, (_, i) => String.fromCharCode(0x2d + i)).join('') +
  Array.from({ length: 0x7e - 0x3e + 1 }, (_, i) => String.fromCharCode(0x3e + i)).join('')
const members = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => {
    const n = String(from + i).padStart(2, '0')
    return `bar${n}=${n}`
  }).join(',')

const fresh = (v: string): HarnessCase['expect'] => ({ notTrace: [TRACE_ID, v] })

export const TRACEPARENT_CASES: HarnessCase[] = [
  { name: 'no traceparent or tracestate: a valid traceparent goes out', headers: [], expect: {} },
  {
    name: 'traceparent without tracestate: same trace, new parent',
    headers: [['traceparent', TP()]],
    expect: { sameTrace: TRACE_ID, notParent: PARENT_ID },
  },
  {
    name: 'two traceparent headers: a new trace',
    headers: [
      ['traceparent', `00-12345678901234567890123456789011-${PARENT_ID}-01`],
      ['traceparent', TP()],
    ],
    expect: { notTrace: ['12345678901234567890123456789011', TRACE_ID] },
  },
  { name: 'header named trace-parent is not traceparent', headers: [['trace-parent', TP()]], expect: { notTrace: [TRACE_ID] } },
  { name: 'header named trace.parent is not traceparent', headers: [['trace.parent', TP()]], expect: { notTrace: [TRACE_ID] } },
  ...['TraceParent', 'TrAcEpArEnT', 'TRACEPARENT'].map((name) => ({
    name: `header name ${name} is traceparent`,
    headers: [[name, TP()]] as [string, string][],
    expect: { sameTrace: TRACE_ID },
  })),
  { name: 'version 00 with a trailing dot: new trace', headers: [['traceparent', `${TP()}.`]], expect: { notTrace: [TRACE_ID] } },
  {
    name: 'version 00 with more fields: new trace',
    headers: [['traceparent', `${TP()}-what-the-future-will-be-like`]],
    expect: { notTrace: [TRACE_ID] },
  },
  { name: 'future version cc: same trace', headers: [['traceparent', `cc-${TRACE_ID}-${PARENT_ID}-01`]], expect: { sameTrace: TRACE_ID } },
  {
    name: 'future version cc with more fields: same trace',
    headers: [['traceparent', `cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`]],
    expect: { sameTrace: TRACE_ID },
  },
  {
    name: 'future version cc followed by a dot: new trace',
    headers: [['traceparent', `cc-${TRACE_ID}-${PARENT_ID}-01.what-the-future-will-be-like`]],
    expect: { notTrace: [TRACE_ID] },
  },
  { name: 'version ff: new trace', headers: [['traceparent', `ff-${TRACE_ID}-${PARENT_ID}-01`]], expect: { notTrace: [TRACE_ID] } },
  { name: 'version .0: new trace', headers: [['traceparent', `.0-${TRACE_ID}-${PARENT_ID}-01`]], expect: { notTrace: [TRACE_ID] } },
  { name: 'version 0.: new trace', headers: [['traceparent', `0.-${TRACE_ID}-${PARENT_ID}-01`]], expect: { notTrace: [TRACE_ID] } },
  { name: 'version 000: new trace', headers: [['traceparent', `000-${TRACE_ID}-${PARENT_ID}-01`]], expect: { notTrace: [TRACE_ID] } },
  { name: 'version 0000: new trace', headers: [['traceparent', `0000-${TRACE_ID}-${PARENT_ID}-01`]], expect: { notTrace: [TRACE_ID] } },
  { name: 'version 0: new trace', headers: [['traceparent', `0-${TRACE_ID}-${PARENT_ID}-01`]], expect: { notTrace: [TRACE_ID] } },
  {
    name: 'all-zero trace id: new trace',
    headers: [['traceparent', `00-00000000000000000000000000000000-${PARENT_ID}-01`]],
    expect: { notTrace: ['00000000000000000000000000000000'] },
  },
  {
    name: 'trace id with a leading dot: new trace',
    headers: [['traceparent', `00-.2345678901234567890123456789012-${PARENT_ID}-01`]],
    expect: fresh('.2345678901234567890123456789012'),
  },
  {
    name: 'trace id with a trailing dot: new trace',
    headers: [['traceparent', `00-1234567890123456789012345678901.-${PARENT_ID}-01`]],
    expect: fresh('1234567890123456789012345678901.'),
  },
  {
    name: 'trace id of 33 digits: new trace',
    headers: [['traceparent', `00-123456789012345678901234567890123-${PARENT_ID}-01`]],
    expect: { notTrace: ['123456789012345678901234567890123', TRACE_ID, '23456789012345678901234567890123'] },
  },
  {
    name: 'trace id of 31 digits: new trace',
    headers: [['traceparent', `00-1234567890123456789012345678901-${PARENT_ID}-01`]],
    expect: fresh('1234567890123456789012345678901'),
  },
  {
    name: 'all-zero parent id: new trace',
    headers: [['traceparent', `00-${TRACE_ID}-0000000000000000-01`]],
    expect: { notTrace: [TRACE_ID] },
  },
  {
    name: 'parent id with a leading dot: new trace',
    headers: [['traceparent', `00-${TRACE_ID}-.234567890123456-01`]],
    expect: { notTrace: [TRACE_ID] },
  },
  {
    name: 'parent id with a trailing dot: new trace',
    headers: [['traceparent', `00-${TRACE_ID}-123456789012345.-01`]],
    expect: { notTrace: [TRACE_ID] },
  },
  {
    name: 'parent id of 17 digits: new trace',
    headers: [['traceparent', `00-${TRACE_ID}-12345678901234567-01`]],
    expect: { notTrace: [TRACE_ID] },
  },
  {
    name: 'parent id of 15 digits: new trace',
    headers: [['traceparent', `00-${TRACE_ID}-123456789012345-01`]],
    expect: { notTrace: [TRACE_ID] },
  },
  { name: 'flags .0: new trace', headers: [['traceparent', `00-${TRACE_ID}-${PARENT_ID}-.0`]], expect: { notTrace: [TRACE_ID] } },
  { name: 'flags 0.: new trace', headers: [['traceparent', `00-${TRACE_ID}-${PARENT_ID}-0.`]], expect: { notTrace: [TRACE_ID] } },
  { name: 'flags 001: new trace', headers: [['traceparent', `00-${TRACE_ID}-${PARENT_ID}-001`]], expect: { notTrace: [TRACE_ID] } },
  { name: 'flags 1: new trace', headers: [['traceparent', `00-${TRACE_ID}-${PARENT_ID}-1`]], expect: { notTrace: [TRACE_ID] } },
  ...[` ${TP()}`, `\t${TP()}`, `${TP()} `, `${TP()}\t`, `\t ${TP()} \t`].map((value) => ({
    name: `spaces and tabs around traceparent ${JSON.stringify(value.replace(TP(), '…'))} are allowed`,
    headers: [['traceparent', value]] as [string, string][],
    expect: { sameTrace: TRACE_ID },
  })),
  {
    name: 'the random flag (02) is passed on',
    headers: [['traceparent', TP('02')]],
    expect: { sameTrace: TRACE_ID, notParent: PARENT_ID, flagBit: 2 },
  },
]

const TP0 = TP('00')
const ts = (...values: string[]): [string, string][] => [['traceparent', TP0], ...values.map((v) => ['tracestate', v] as [string, string])]

export const TRACESTATE_CASES: HarnessCase[] = [
  { name: 'tracestate without traceparent is discarded (1 member)', headers: [['tracestate', 'foo=1']], expect: { size: 0 } },
  { name: 'tracestate without traceparent is discarded (2 members)', headers: [['tracestate', 'foo=1,bar=2']], expect: { size: 0 } },
  {
    name: 'tracestate with traceparent is passed on',
    headers: ts('foo=1,bar=2'),
    expect: { sameTrace: TRACE_ID, has: { foo: '1', bar: '2' } },
  },
  {
    name: 'header named trace-state is not tracestate',
    headers: [
      ['traceparent', TP0],
      ['trace-state', 'foo=1'],
    ],
    expect: { lacks: ['foo'] },
  },
  {
    name: 'header named trace.state is not tracestate',
    headers: [
      ['traceparent', TP0],
      ['trace.state', 'foo=1'],
    ],
    expect: { lacks: ['foo'] },
  },
  ...['TraceState', 'TrAcEsTaTe', 'TRACESTATE'].map((name) => ({
    name: `header name ${name} is tracestate`,
    headers: [
      ['traceparent', TP0],
      [name, 'foo=1'],
    ] as [string, string][],
    expect: { has: { foo: '1' } },
  })),
  { name: 'an empty tracestate is discarded', headers: ts(''), expect: { sameTrace: TRACE_ID, size: 0 } },
  { name: 'an empty tracestate after a good one', headers: ts('foo=1', ''), expect: { sameTrace: TRACE_ID, has: { foo: '1' } } },
  { name: 'an empty tracestate before a good one', headers: ts('', 'foo=1'), expect: { sameTrace: TRACE_ID, has: { foo: '1' } } },
  {
    name: 'several tracestate headers are combined in order',
    headers: ts('foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'),
    expect: { sameTrace: TRACE_ID, ordered: ['foo=1', 'bar=2', 'rojo=1', 'congo=2', 'baz=3'] },
  },
  { name: 'duplicated keys foo=1,foo=1', headers: ts('foo=1,foo=1'), expect: { sameTrace: TRACE_ID, ordered: ['foo=1'] } },
  { name: 'duplicated keys foo=1,foo=2', headers: ts('foo=1,foo=2'), expect: { sameTrace: TRACE_ID, oneOf: ['foo=1', 'foo=2'] } },
  {
    name: 'duplicated keys in two headers, same value',
    headers: ts('foo=1', 'foo=1'),
    expect: { sameTrace: TRACE_ID, ordered: ['foo=1'] },
  },
  {
    name: 'duplicated keys in two headers, other value',
    headers: ts('foo=1', 'foo=2'),
    expect: { sameTrace: TRACE_ID, oneOf: ['foo=1', 'foo=2'] },
  },
  { name: 'every allowed character, simple key', headers: ts(`${allKeys}=${allValue}`), expect: { has: { [allKeys]: allValue } } },
  {
    name: 'every allowed character, multi-tenant key',
    headers: ts(`${allKeys}@a-z0-9_-*/=${allValue}`),
    expect: { has: { [`${allKeys}@a-z0-9_-*/`]: allValue } },
  },
  {
    name: 'spaces and tabs around members',
    headers: ts('foo=1 \t , \t bar=2, \t baz=3'),
    expect: { has: { foo: '1', bar: '2', baz: '3' } },
  },
  {
    name: 'tabs and spaces around members',
    headers: ts('foo=1\t \t,\t \tbar=2,\t \tbaz=3'),
    expect: { has: { foo: '1', bar: '2', baz: '3' } },
  },
  ...[' foo=1', '\tfoo=1', 'foo=1 ', 'foo=1\t', '\t foo=1 \t'].map((value) => ({
    name: `spaces and tabs around the header ${JSON.stringify(value)}`,
    headers: ts(value),
    expect: { sameTrace: TRACE_ID, has: { foo: '1' } },
  })),
  { name: 'key with a space discards the header', headers: ts('foo =1'), expect: { lacks: ['foo '] } },
  { name: 'upper-case key discards the header', headers: ts('FOO=1'), expect: { lacks: ['FOO'] } },
  { name: 'key with a dot discards the header', headers: ts('foo.bar=1'), expect: { lacks: ['foo.bar'] } },
  { name: 'key ending in @ is kept', headers: ts('foo@=1,bar=2'), expect: { has: { 'foo@': '1', bar: '2' } } },
  { name: 'key starting with @ discards the header', headers: ts('@foo=1,bar=2'), expect: { lacks: ['bar'] } },
  { name: 'key with @@ is kept', headers: ts('foo@@bar=1,bar=2'), expect: { has: { 'foo@@bar': '1', bar: '2' } } },
  { name: 'key with two @ is kept', headers: ts('foo@bar@baz=1,bar=2'), expect: { has: { 'foo@bar@baz': '1', bar: '2' } } },
  {
    name: '32 members are kept',
    headers: ts(members(1, 10), members(11, 20), members(21, 30), members(31, 32)),
    expect: { has: { bar01: '01' }, size: 32 },
  },
  {
    name: '33 members discard the header',
    headers: ts(members(1, 10), members(11, 20), members(21, 30), members(31, 33)),
    expect: { lacks: ['bar01'] },
  },
  { name: 'a 256-character key is kept', headers: ts('foo=1', `${key256}=1`), expect: { has: { foo: '1', [key256]: '1' } } },
  { name: 'a 257-character key discards the header', headers: ts('foo=1', `${'z'.repeat(257)}=1`), expect: { lacks: ['foo'] } },
  {
    name: 'a 256-character multi-tenant key (241@14) is kept',
    headers: ts('foo=1', `${'t'.repeat(241)}@${'v'.repeat(14)}=1`),
    expect: { has: { foo: '1', [`${'t'.repeat(241)}@${'v'.repeat(14)}`]: '1' } },
  },
  {
    name: 'a 244-character multi-tenant key (242@1) is kept',
    headers: ts('foo=1', `${'t'.repeat(242)}@v=1`),
    expect: { has: { foo: '1', [`${'t'.repeat(242)}@v`]: '1' } },
  },
  {
    name: 'a multi-tenant key with a 15-character system is kept',
    headers: ts('foo=1', `t@${'v'.repeat(15)}=1`),
    expect: { has: { foo: '1', [`t@${'v'.repeat(15)}`]: '1' } },
  },
  { name: 'a value with = discards the header', headers: ts('foo=bar=baz'), expect: { lacks: ['foo'] } },
  // a comma ends a member: `foo=a,b` is the member foo=a and a member `b` with no `=`
  { name: 'a value with , discards the header', headers: ts('bar=1,foo=a,b'), expect: { lacks: ['bar', 'foo'] } },
  { name: 'an empty value discards the header', headers: ts('foo=,bar=3'), expect: { lacks: ['foo', 'bar'] } },
]
