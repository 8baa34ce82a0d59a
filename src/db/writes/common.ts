/**
 * Shared pieces of the write path: input checks every mutation applies, slug lookups inside a
 * transaction, and recognising a unique violation (a slug taken by a concurrent writer).
 */
import { inArray, sql } from 'drizzle-orm';
import type { FieldIssues } from '../../errors.js';
import type { Database } from '../client.js';
import { PLAIN_LIST_MAX, TEXT_LIMITS, type TextKind, textLength } from '../limits.js';
import { chips, companies, policyDecisions } from '../schema.js';

/** A drizzle transaction (same query API as `Database`). */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/** Slug rule of every domain table (also a CHECK constraint in the database). */
export const SLUG_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** The problem of text longer than `max` (code points, see `textLength`), naming the limit. */
const tooLong = (max: number, length: number) =>
  `Must be at most ${max} characters (got ${length}).`;

/** Records a problem unless `value` is a well-formed slug. */
export function checkSlug(issues: FieldIssues, path: (string | number)[], value: string): void {
  if (textLength(value) > TEXT_LIMITS.slug) {
    issues.add(path, tooLong(TEXT_LIMITS.slug, textLength(value)));
  } else if (!SLUG_PATTERN.test(value)) {
    issues.add(
      path,
      'Must be lower-case letters and digits in groups joined by single hyphens, e.g. `h200` or `us-bis-2025-01-15-rule`.',
    );
  }
}

/**
 * Records a problem when text is longer than the limit of its `kind` (see `TEXT_LIMITS`), or
 * blank (optional text may be null or absent, but not blank).
 */
export function checkText(
  issues: FieldIssues,
  path: (string | number)[],
  value: string | null | undefined,
  kind: TextKind,
): void {
  if (value == null) return;
  if (value.trim() === '') issues.add(path, 'Must not be blank.');
  else if (textLength(value) > TEXT_LIMITS[kind]) {
    issues.add(path, tooLong(TEXT_LIMITS[kind], textLength(value)));
  }
}

/**
 * Records a problem unless `value` is a finite number (the store refuses NaN and infinities
 * too, see `finiteChecks` in schema.ts) and, with `min`, at least `min`. Null or absent passes.
 */
export function checkNumber(
  issues: FieldIssues,
  path: (string | number)[],
  value: number | null | undefined,
  min?: number,
): void {
  if (value == null) return;
  if (!Number.isFinite(value)) {
    issues.add(path, `Must be a finite number: NaN and infinities are refused (got ${value}).`);
  } else if (min !== undefined && value < min) {
    issues.add(
      path,
      min === 0
        ? `Must not be negative (got ${value}).`
        : `Must be at least ${min} (got ${value}).`,
    );
  }
}

/** Earliest date a write accepts (`announcedOn`, `effectiveOn`, `observedOn`, `occurredAt`). */
export const MIN_DATE = '1900-01-01';
/** Latest date a write accepts. */
export const MAX_DATE = '2199-12-31';

/** Today's date in UTC, `YYYY-MM-DD`. */
export const todayUtc = (): string => new Date().toISOString().slice(0, 10);

/**
 * Records a problem unless the `YYYY-MM-DD` date `value` is between `MIN_DATE` and `MAX_DATE`
 * and, with `notAfterToday`, not later than today (UTC). Null or absent passes.
 */
export function checkDate(
  issues: FieldIssues,
  path: (string | number)[],
  value: string | null | undefined,
  notAfterToday = false,
): void {
  if (value == null) return;
  if (value < MIN_DATE || value > MAX_DATE) {
    issues.add(path, `Must be between ${MIN_DATE} and ${MAX_DATE} (got ${value}).`);
  } else if (notAfterToday && value > todayUtc()) {
    issues.add(path, `Must not be in the future (today is ${todayUtc()} UTC; got ${value}).`);
  }
}

/** Records a problem for each slug that appears more than once in `values`. */
export function checkUnique(
  issues: FieldIssues,
  path: (string | number)[],
  values: readonly string[],
): void {
  const seen = new Set<string>();
  values.forEach((value, i) => {
    if (seen.has(value)) issues.add([...path, i], `"${value}" is listed twice.`);
    seen.add(value);
  });
}

/**
 * Records a problem when `values` holds more than `PLAIN_LIST_MAX` items: a plain list of the
 * API (a decision's chips, a signal's companies, ...) holds at most that many, which is what a
 * read of it is charged for. `what` names the items (`chips`).
 */
export function checkListSize(
  issues: FieldIssues,
  path: (string | number)[],
  values: readonly unknown[] | null | undefined,
  what: string,
): void {
  if (values && values.length > PLAIN_LIST_MAX) {
    issues.add(path, `Name at most ${PLAIN_LIST_MAX} ${what} (got ${values.length}).`);
  }
}

const SLUG_TABLES = { companies, chips, policyDecisions } as const;

/** A table whose rows are referenced by slug. */
export type SlugTable = keyof typeof SLUG_TABLES;

/** Row ids by slug for the given slugs of one table (absent slugs are missing from the map). */
export async function idsBySlug(
  tx: Database | Transaction,
  table: keyof typeof SLUG_TABLES,
  slugs: readonly string[],
): Promise<Map<string, number>> {
  if (slugs.length === 0) return new Map();
  const source = SLUG_TABLES[table];
  const rows = await tx
    .select({ id: source.id, slug: source.slug })
    .from(source)
    .where(inArray(source.slug, [...new Set(slugs)]));
  return new Map(rows.map((row) => [row.slug, row.id]));
}

/** One slug an input refers to: the table it names, its place in the input, and the slug. */
export interface Reference {
  table: SlugTable;
  path: (string | number)[];
  slug: string;
}

/** `slug` as a one-element list of references at `path`, or none when it is null or absent. */
export const referenceTo = (
  table: SlugTable,
  path: (string | number)[],
  slug: string | null | undefined,
): Reference[] => (slug ? [{ table, path, slug }] : []);

/** The slugs of a list as references, the i-th at `pathOf(i)`. */
export const referencesTo = (
  table: SlugTable,
  slugs: readonly string[],
  pathOf: (i: number) => (string | number)[],
): Reference[] => slugs.map((slug, i) => ({ table, path: pathOf(i), slug }));

const NOUNS: Record<SlugTable, string> = {
  companies: 'company',
  chips: 'chip',
  policyDecisions: 'policy decision',
};

/**
 * Looks up `references` (one statement per table named) and records `No <thing> "<slug>".`
 * at the path of each unknown one, unless a problem is already recorded at that path or above
 * it (a reference listed twice or naming the input itself is reported once, as that). Returns
 * row ids by slug per table (empty maps for tables not referenced).
 */
export async function resolveReferences(
  tx: Database | Transaction,
  issues: FieldIssues,
  references: readonly Reference[],
): Promise<Record<SlugTable, Map<string, number>>> {
  const flagged = (path: (string | number)[]) =>
    issues.errors.some((e) => e.path.every((part, i) => part === String(path[i])));
  const checked = references.filter((reference) => !flagged(reference.path));
  const slugsOf = (table: SlugTable) =>
    checked.filter((reference) => reference.table === table).map((reference) => reference.slug);
  const [companyIds, chipIds, decisionIds] = await Promise.all(
    (['companies', 'chips', 'policyDecisions'] as const).map((table) =>
      idsBySlug(tx, table, slugsOf(table)),
    ),
  );
  const ids = {
    companies: companyIds as Map<string, number>,
    chips: chipIds as Map<string, number>,
    policyDecisions: decisionIds as Map<string, number>,
  };
  for (const { table, path, slug } of checked) {
    if (!ids[table].has(slug)) issues.add(path, `No ${NOUNS[table]} "${slug}".`);
  }
  return ids;
}

/**
 * Throws the problems found so far, if any, after adding references longer than a slug can be
 * and the unknown ones among `references` (looked up outside any transaction: nothing is
 * written), so one answer lists format problems and unknown references together.
 */
export async function throwIfAnyWithReferences(
  db: Database,
  issues: FieldIssues,
  references: readonly Reference[],
): Promise<void> {
  for (const { path, slug } of references) {
    if (textLength(slug) > TEXT_LIMITS.slug) {
      issues.add(path, tooLong(TEXT_LIMITS.slug, textLength(slug)));
    }
  }
  if (issues.errors.length === 0) return;
  await resolveReferences(db, issues, references);
  issues.throwIfAny();
}

/**
 * True when `error`, or the driver error drizzle wraps in `cause`, carries the SQLSTATE `code`
 * (both postgres.js and PGlite set it as `code`).
 */
export function hasSqlState(error: unknown, code: string): boolean {
  for (
    let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 3;
    depth++
  ) {
    if (e.code === code) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** True when `error` is a unique violation (see `hasSqlState`). */
export function isUniqueViolation(error: unknown): boolean {
  return hasSqlState(error, '23505');
}

/**
 * Sets the status-history trigger's transaction-local `occurred_at` (an ISO instant) and `note`
 * for the changes that follow in the transaction `tx`; empty (or a null note) unsets them.
 */
export async function setHistoryContext(
  tx: Database | Transaction,
  occurredAt: string,
  note: string | null,
): Promise<void> {
  await tx.execute(
    sql`select set_config('chipgate.occurred_at', ${occurredAt}, true), set_config('chipgate.note', ${note ?? ''}, true)`,
  );
}

/** Midnight UTC of a `YYYY-MM-DD` date, as an ISO instant (`2025-01-02T00:00:00Z`). */
export const midnightUtc = (date: string): string => `${date}T00:00:00Z`;
