// Human-readable output for the CLI.

export function printTable(
  headers: string[],
  rows: string[][],
  out: NodeJS.WritableStream = process.stdout,
): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd() + '\n';
  out.write(line(headers));
  for (const r of rows) out.write(line(r));
  if (rows.length === 0) out.write('(none)\n');
}

/** A JSON value as a table cell: strings as they are, objects as JSON, nothing as ''. */
export function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}
