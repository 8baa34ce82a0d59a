/** Helpers shared by the command-line modules. */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** The options a command declares: `node:util` `parseArgs` option settings by flag name. */
export type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** What `readFlags` found: the declared flags' values, positionals, and what is wrong. */
export interface Flags {
  /** Values by flag name (`--page-size` is `page-size`): a string, a boolean, or a list. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  /** The first flag given that `options` does not declare, or a string flag without its value. */
  bad?: { flag: string };
  /** Flag names in the order given (the last of two opposite flags wins). */
  order: string[];
}

/**
 * Reads command-line flags with `node:util` `parseArgs`, leniently: a value may start with a dash
 * (`--max-subscriptions -1` is a bad number, reported as such), and an unknown flag or a missing
 * value is reported in `bad` for the command to word its own usage error, never thrown.
 */
export function readFlags(args: string[], options: FlagOptions): Flags {
  const { values, positionals, tokens } = parseArgs({
    args,
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const order: string[] = [];
  let bad: Flags['bad'];
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    order.push(token.name);
    const declared = options[token.name];
    if (!bad && (!declared || (declared.type === 'string' && token.value === undefined))) {
      bad = { flag: token.rawName };
    }
  }
  return { values, positionals, order, ...(bad ? { bad } : {}) };
}

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
