/**
 * SQL for API keys (`api_keys`): create, list, revoke, look up by hash, record use. Only the
 * SHA-256 hash of a key is ever stored or read here; the key itself never reaches the database.
 */
import { asc, eq, inArray, sql } from 'drizzle-orm';
import type { Database } from './client.js';
import { type ApiKeyScope, apiKeys } from './schema.js';

/**
 * A key's own limits. Null limits mean "the configured default for keys"; `persistedOnly`
 * keys may run registered trusted documents only.
 */
export interface ApiKeyLimitSettings {
  rateLimit: number | null;
  costLimit: number | null;
  maxSubscriptions: number | null;
  persistedOnly: boolean;
}

/** A key as `keys list` shows it (never the hash). */
export interface ApiKeyListing extends ApiKeyLimitSettings {
  id: number;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** What authentication needs of a key row (and what `Query.viewer` shows of it). */
export interface ApiKeyRecord extends ApiKeyLimitSettings {
  id: number;
  name: string;
  scopes: ApiKeyScope[];
  keyHash: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const limitColumns = {
  rateLimit: apiKeys.rateLimit,
  costLimit: apiKeys.costLimit,
  maxSubscriptions: apiKeys.maxSubscriptions,
  persistedOnly: apiKeys.persistedOnly,
};

/** Inserts a key by its hash, with its own limits if any; returns the new row's id. */
export async function insertApiKey(
  db: Database,
  key: {
    name: string;
    prefix: string;
    keyHash: string;
    scopes: ApiKeyScope[];
  } & Partial<ApiKeyLimitSettings>,
): Promise<number> {
  const [row] = await db.insert(apiKeys).values(key).returning({ id: apiKeys.id });
  if (!row) throw new Error('insertApiKey: no row returned');
  return row.id;
}

/** Every key, oldest first, without hashes. */
export function listApiKeys(db: Database): Promise<ApiKeyListing[]> {
  return db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      prefix: apiKeys.prefix,
      scopes: apiKeys.scopes,
      createdAt: apiKeys.createdAt,
      lastUsedAt: apiKeys.lastUsedAt,
      revokedAt: apiKeys.revokedAt,
      ...limitColumns,
    })
    .from(apiKeys)
    .orderBy(asc(apiKeys.id));
}

/**
 * Sets `revoked_at` (now) on a key that is not revoked yet. Returns `revoked`, `already`
 * (revoked before; its date is kept) or `missing` (no such id).
 */
export async function revokeApiKey(
  db: Database,
  id: number,
): Promise<'revoked' | 'already' | 'missing'> {
  const [row] = await db
    .select({ revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .where(eq(apiKeys.id, id));
  if (!row) return 'missing';
  if (row.revokedAt) return 'already';
  await db.update(apiKeys).set({ revokedAt: sql`now()` }).where(eq(apiKeys.id, id));
  return 'revoked';
}

/**
 * Changes a key's limits (only the settings given; a null limit returns to the default).
 * Returns false when there is no key with this id.
 */
export async function updateApiKeyLimits(
  db: Database,
  id: number,
  changes: Partial<ApiKeyLimitSettings>,
): Promise<boolean> {
  if (Object.keys(changes).length === 0) {
    const [row] = await db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.id, id));
    return !!row;
  }
  const rows = await db
    .update(apiKeys)
    .set(changes)
    .where(eq(apiKeys.id, id))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

/**
 * The keys whose hashes are among `keyHashes` (hex SHA-256), in no particular order: one indexed
 * lookup for many (concurrent requests' keys, see `authenticate`).
 */
export async function findApiKeysByHashes(
  db: Database,
  keyHashes: readonly string[],
): Promise<ApiKeyRecord[]> {
  if (keyHashes.length === 0) return [];
  return db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      scopes: apiKeys.scopes,
      keyHash: apiKeys.keyHash,
      createdAt: apiKeys.createdAt,
      lastUsedAt: apiKeys.lastUsedAt,
      revokedAt: apiKeys.revokedAt,
      ...limitColumns,
    })
    .from(apiKeys)
    .where(inArray(apiKeys.keyHash, [...keyHashes]));
}

/**
 * Sets `last_used_at` to now unless it was set less than `resolutionSeconds` ago, in which case
 * nothing is written (so busy keys cost at most one write per interval, across instances too).
 */
export async function touchApiKey(
  db: Database,
  id: number,
  resolutionSeconds: number,
): Promise<void> {
  await db.execute(sql`update api_keys set last_used_at = now()
    where id = ${id}
      and (last_used_at is null or last_used_at < now() - make_interval(secs => ${resolutionSeconds}))`);
}

/** When a key was created and last used (for `Query.viewer`); undefined when it is gone. */
export async function findApiKeyDates(
  db: Database,
  id: number,
): Promise<{ createdAt: Date; lastUsedAt: Date | null } | undefined> {
  const [row] = await db
    .select({ createdAt: apiKeys.createdAt, lastUsedAt: apiKeys.lastUsedAt })
    .from(apiKeys)
    .where(eq(apiKeys.id, id));
  return row;
}
