/** The benchmark's console output (plain-text tables, progress lines) and a free port helper. */
import { createServer } from 'node:net';

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

/** Writes one line of the benchmark's output to stdout. */
export const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * A progress logger: each line prefixed with the minutes and seconds since it was created,
 * e.g. `  [1:05] postgres planned: measuring 10 s`.
 */
export function progressLog(): (line: string) => void {
  const startedAt = performance.now();
  return (line) => {
    const seconds = Math.round((performance.now() - startedAt) / 1000);
    log(`  [${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}] ${line}`);
  };
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
