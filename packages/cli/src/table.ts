/** Plain aligned columns that fit a terminal, as `linkerd` and `kubectl` print them. */

/** Formats rows under a header, each column as wide as its widest cell, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

/** Milliseconds as `0.8ms`, `12ms`, `1.5s`; `-` when unknown. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '-'
  if (value >= 1000) return `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)}s`
  if (value >= 10) return `${Math.round(value)}ms`
  return `${value.toFixed(1)}ms`
}

/** A ratio as `99.50%`; `-` when there is nothing to divide. */
export function percent(ratio: number): string {
  return Number.isFinite(ratio) ? `${(ratio * 100).toFixed(2)}%` : '-'
}

/** Requests per second with one decimal. */
export function rate(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(1)}rps` : '-'
}
