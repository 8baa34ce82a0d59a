/** Helpers shared by the command-line modules. */

/** A row id given on the command line (1 to 2^31-1), or undefined when it is not one. */
export const parseId = (value: string | undefined): number | undefined =>
  value && /^[1-9]\d{0,9}$/.test(value) && Number(value) <= 2_147_483_647
    ? Number(value)
    : undefined;

/** Prints rows as columns separated by two spaces (the first row is the header). */
export function printTable(out: (line: string) => void, rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)));
  for (const row of rows) {
    out(
      row
        .map((cell, i) => cell.padEnd(widths?.[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  }
}
