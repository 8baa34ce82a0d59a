/**
 * SQL for `api_key_usage`: per key and UTC day, requests, query cost and responses with errors.
 * The gateway adds what it counted in memory (one statement per flush, three when a key was
 * deleted meanwhile); `keys usage` reads it.
 */
import { and, asc, eq, gte, inArray, sql } from 'drizzle-orm';
import type { Database } from './client.js';
import { apiKeys, apiKeyUsage } from './schema.js';
import { hasSqlState } from './writes/common.js';

/** Counts of one key on one UTC day (`YYYY-MM-DD`). */
export interface UsageRow {
  apiKeyId: number;
  day: string;
  requests: number;
  cost: number;
  errors: number;
}

/**
 * Adds each row's counts to the stored ones (creating the day's row when missing), in one
 * statement. Rows of keys that no longer exist (deleted after they were counted) are not
 * written: then the key ids still present are read and only their rows added (two more
 * statements). Returns the ids of the keys whose rows were dropped (empty when none). Rejects
 * when the database fails, or when yet another key is deleted meanwhile (nothing is written).
 */
export async function addUsage(db: Database, rows: UsageRow[]): Promise<number[]> {
  try {
    await insertUsage(db, rows);
    return [];
  } catch (error) {
    if (!hasSqlState(error, FOREIGN_KEY_VIOLATION)) throw error;
  }
  const ids = [...new Set(rows.map((row) => row.apiKeyId))];
  const present = await db.select({ id: apiKeys.id }).from(apiKeys).where(inArray(apiKeys.id, ids));
  const kept = new Set(present.map((key) => key.id));
  await insertUsage(
    db,
    rows.filter((row) => kept.has(row.apiKeyId)),
  );
  return ids.filter((id) => !kept.has(id));
}

const FOREIGN_KEY_VIOLATION = '23503';

async function insertUsage(db: Database, rows: UsageRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insert(apiKeyUsage)
    .values(rows)
    .onConflictDoUpdate({
      target: [apiKeyUsage.apiKeyId, apiKeyUsage.day],
      set: {
        requests: sql`${apiKeyUsage.requests} + excluded.requests`,
        cost: sql`${apiKeyUsage.cost} + excluded.cost`,
        errors: sql`${apiKeyUsage.errors} + excluded.errors`,
      },
    });
}

/** A key's usage from `sinceDay` (inclusive, `YYYY-MM-DD`), oldest day first. */
export function usageOfKey(db: Database, apiKeyId: number, sinceDay: string): Promise<UsageRow[]> {
  return db
    .select({
      apiKeyId: apiKeyUsage.apiKeyId,
      day: apiKeyUsage.day,
      requests: apiKeyUsage.requests,
      cost: apiKeyUsage.cost,
      errors: apiKeyUsage.errors,
    })
    .from(apiKeyUsage)
    .where(and(eq(apiKeyUsage.apiKeyId, apiKeyId), gte(apiKeyUsage.day, sinceDay)))
    .orderBy(asc(apiKeyUsage.day));
}
