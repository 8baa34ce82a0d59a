/** API keys for tests, created the way `keys create` creates them (only the hash is stored). */
import { sql } from 'drizzle-orm';
import { generateKey } from '../../src/auth.js';
import { insertApiKey } from '../../src/db/api-keys.js';
import type { Database } from '../../src/db/client.js';
import type { ApiKeyScope } from '../../src/db/schema.js';

/** A stored key: its id, the secret, and the header that presents it. */
export interface TestKey {
  id: number;
  key: string;
  headers: { authorization: string };
}

/** Stores a new key with `scopes` and returns it. */
export async function createKey(
  db: Database,
  scopes: ApiKeyScope[],
  name = `test ${scopes.join('+') || 'none'}`,
): Promise<TestKey> {
  const generated = generateKey();
  const id = await insertApiKey(db, {
    name,
    prefix: generated.prefix,
    keyHash: generated.keyHash,
    scopes,
  });
  return { id, key: generated.key, headers: { authorization: `Bearer ${generated.key}` } };
}

/** Row counts of the tables writes touch. */
export interface RowCounts {
  companies: number;
  chips: number;
  policy_decisions: number;
  policy_decision_chips: number;
  policy_decision_companies: number;
  policy_decision_updates: number;
  demand_signals: number;
  demand_signal_companies: number;
  idempotency_keys: number;
}

/** Row counts of the tables writes touch, to prove a failed write left nothing behind. */
export async function rowCounts(db: Database): Promise<RowCounts> {
  const result: unknown = await db.execute(sql`select
    (select count(*) from companies)::int as companies,
    (select count(*) from chips)::int as chips,
    (select count(*) from policy_decisions)::int as policy_decisions,
    (select count(*) from policy_decision_chips)::int as policy_decision_chips,
    (select count(*) from policy_decision_companies)::int as policy_decision_companies,
    (select count(*) from policy_decision_updates)::int as policy_decision_updates,
    (select count(*) from demand_signals)::int as demand_signals,
    (select count(*) from demand_signal_companies)::int as demand_signal_companies,
    (select count(*) from idempotency_keys)::int as idempotency_keys`);
  const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
  return rows[0] as RowCounts;
}
