/**
 * Shared pieces of the write path: input checks every mutation applies, slug lookups inside a
 * transaction, and recognising a unique violation (a slug taken by a concurrent writer).
 */
import { inArray } from 'drizzle-orm';
import type { FieldIssues } from '../../errors.js';
import type { Database } from '../client.js';
import { chips, companies, policyDecisions } from '../schema.js';

/** A drizzle transaction (same query API as `Database`). */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/** Slug rule of every domain table (also a CHECK constraint in the database). */
export const SLUG_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
/** Longest slug accepted. */
export const MAX_SLUG_LENGTH = 100;
/** Longest free text accepted (summaries, notes). */
export const MAX_TEXT_LENGTH = 5000;
/** Longest short text accepted (names, titles, authorities, identifiers). */
export const MAX_SHORT_TEXT_LENGTH = 300;

/** Records a problem unless `value` is a well-formed slug. */
export function checkSlug(issues: FieldIssues, path: (string | number)[], value: string): void {
  if (value.length > MAX_SLUG_LENGTH) {
    issues.add(path, `Must be at most ${MAX_SLUG_LENGTH} characters (got ${value.length}).`);
  } else if (!SLUG_PATTERN.test(value)) {
    issues.add(
      path,
      'Must be lower-case letters and digits in groups joined by single hyphens, e.g. `h200` or `us-bis-2025-01-15-rule`.',
    );
  }
}

/**
 * Records a problem when text is too long, or blank where `required` (optional text may be
 * null or absent, but not blank).
 */
export function checkText(
  issues: FieldIssues,
  path: (string | number)[],
  value: string | null | undefined,
  max: number,
): void {
  if (value == null) return;
  if (value.trim() === '') issues.add(path, 'Must not be blank.');
  else if (value.length > max) {
    issues.add(path, `Must be at most ${max} characters (got ${value.length}).`);
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

const SLUG_TABLES = { companies, chips, policyDecisions } as const;

/** Row ids by slug for the given slugs of one table (absent slugs are missing from the map). */
export async function idsBySlug(
  tx: Transaction,
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

/** True when `error` (or the driver error drizzle wraps in `cause`) is a unique violation. */
export function isUniqueViolation(error: unknown): boolean {
  for (
    let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 3;
    depth++
  ) {
    if (e.code === '23505') return true;
    e = e.cause as typeof e;
  }
  return false;
}
