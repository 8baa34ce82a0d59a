/**
 * Applies the drizzle-kit migrations in `drizzle/` (the same files on PGlite and on a server).
 */
import { sql } from 'drizzle-orm';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { type DatabaseHandle, postgresOptions, queryRows } from './client.js';
import { migrationsFolder } from './migrations-folder.js';
import { type Relations, relations } from './relations.js';

export { migrationsFolder };

/** Arbitrary constant: the advisory lock that serializes migrations across gateway instances. */
const MIGRATION_LOCK = 720430000;

/**
 * Brings the schema up to date. On a server, every migration runs in one transaction that first
 * takes a transaction-level advisory lock, so instances that start together migrate one after
 * the other (the later ones find nothing to do), and nothing outlives the transaction: it works
 * through a pooler in transaction mode too. It runs on the session URL (`sessionUrl`,
 * `CHIPGATE_DATABASE_DIRECT_URL` when set).
 */
export async function runMigrations(handle: DatabaseHandle): Promise<void> {
  if (handle.kind === 'pglite') {
    await migratePglite(handle.db as unknown as PgliteDatabase<Relations>, { migrationsFolder });
    // PGlite learns array types (e.g. company_role[]) when it opens; enums the migrations just
    // created would otherwise not parse as array parameters until the next start.
    await handle.pglite?.refreshArrayTypes();
    return;
  }
  if (!handle.sql) throw new Error('runMigrations: postgres handle without a client');
  // On the driver itself, not the handle's statement seam: a migration's statements (an index
  // built over a large table) may run far longer than a request's database deadline.
  const direct =
    handle.sessionUrl && handle.sessionUrl !== handle.url
      ? postgres(handle.sessionUrl, { ...postgresOptions(1), fetch_types: false })
      : undefined;
  try {
    const db = drizzlePostgres({ client: direct ?? handle.sql, relations });
    await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      // drizzle's migrator on the transaction: its own transaction becomes a savepoint in it.
      await migratePostgres(tx as unknown as Parameters<typeof migratePostgres>[0], {
        migrationsFolder,
      });
    });
  } finally {
    await direct?.end({ timeout: 5 });
  }
}

/** True when the database has no companies yet (a fresh store that the seed should fill). */
export async function isEmpty(handle: DatabaseHandle): Promise<boolean> {
  const [row] = await queryRows<{ empty: boolean }>(
    handle.db,
    sql`select not exists (select 1 from companies) as empty`,
  );
  return row?.empty === true;
}
