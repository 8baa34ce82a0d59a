/** Plain-text tables for the benchmark's console output. */

/** A table cell: text, or a number shown with `digits` decimals. */
export type Cell = string | number | undefined;

/** Formats a number with fixed decimals; `-` when missing. */
export function num(value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

/**
 * Renders rows as an aligned table: text columns left-aligned, numeric columns (every cell a
 * number-like string) right-aligned; `rightAligned` overrides that per column.
 */
export function table(header: string[], rows: Cell[][], rightAligned?: boolean[]): string {
  const cells = rows.map((row) => header.map((_, i) => String(row[i] ?? '-')));
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((row) => (row[i] ?? '').length)),
  );
  const numeric = header.map(
    (_, i) =>
      rightAligned?.[i] ??
      cells.every((row) => /^(-|[-+]?[\d.,]+(\s?[a-z%x]+)?)$/i.test(row[i] ?? '')),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        return numeric[i] ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(header), rule, ...cells.map(line)].join('\n');
}
