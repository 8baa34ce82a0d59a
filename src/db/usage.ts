/**
 * SQL for `api_key_usage`: per key and UTC day, requests, query cost and responses with errors.
 * The gateway adds what it counted in memory (one statement per flush); `keys usage` reads it.
 */
import { and, asc, eq, gte, sql } from 'drizzle-orm';
import type { Database } from './client.js';
import { apiKeyUsage } from './schema.js';

/** Counts of one key on one UTC day (`YYYY-MM-DD`). */
export interface UsageRow {
  apiKeyId: number;
  day: string;
  requests: number;
  cost: number;
  errors: number;
}

/** Adds each row's counts to the stored ones (creating the day's row when missing). */
export async function addUsage(db: Database, rows: UsageRow[]): Promise<void> {
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
