/**
 * Database client: PGlite (embedded, the default) or postgres.js (a real server, when
 * `DATABASE_URL` is set). Everything above this module sees one drizzle `Database` type.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Logger, SQLWrapper } from 'drizzle-orm';
import type { PgAsyncDatabase } from 'drizzle-orm/pg-core/async/db';
import type { PgQueryResultHKT } from 'drizzle-orm/pg-core/session';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { acquireDirectoryLock, type DirectoryLock } from './lock.js';
import { type Relations, relations } from './relations.js';

/** The drizzle database every module above the client uses, whichever driver is underneath. */
export type Database = PgAsyncDatabase<PgQueryResultHKT, Relations>;

/** An open database with its driver-specific lifecycle. */
export interface DatabaseHandle {
  db: Database;
  /** `pglite` (embedded) or `postgres` (a server through postgres.js). */
  kind: 'pglite' | 'postgres';
  /** A short description for logs, with no credentials (e.g. `pglite:./.chipgate/pgdata`). */
  description: string;
  /** Runs `select 1`; rejects when the database is unreachable. */
  ping(): Promise<void>;
  /** Closes connections (postgres.js: waits up to 5 s for queries in flight), releases locks. */
  close(): Promise<void>;
  /** The underlying PGlite instance when `kind` is `pglite` (tests clone it). */
  pglite?: PGlite;
  /** The underlying postgres.js client when `kind` is `postgres`. */
  sql?: postgres.Sql;
  /**
   * The server URL when `kind` is `postgres`, for connections outside the pool (the LISTEN
   * session). It holds credentials: never log it (use `description`).
   */
  url?: string;
}

/** Options for `openDatabase`. */
export interface OpenDatabaseOptions {
  /** postgres:// URL of a server; when absent, PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory, or `memory://` for an in-memory database. */
  pgliteDir?: string;
  /** Upper bound of the postgres.js pool. */
  poolMax?: number;
  /** drizzle logger, e.g. a statement counter. */
  logger?: Logger;
}

/** postgres.js settings shared by the gateway, the CLI and tests. */
export function postgresOptions(poolMax: number): postgres.Options<Record<string, never>> {
  return {
    max: poolMax,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    // Sessions run in UTC so timestamps and `date` casts never depend on the server's zone.
    connection: { application_name: 'chipgate', TimeZone: 'UTC' },
  };
}

/** Wraps an existing PGlite instance (already opened) in a handle. */
export async function wrapPglite(
  client: PGlite,
  options: { logger?: Logger; description?: string; lock?: DirectoryLock } = {},
): Promise<DatabaseHandle> {
  await client.exec(`SET TIME ZONE 'UTC'`);
  const db = drizzlePglite({ client, relations, logger: options.logger ?? false });
  return {
    db: db as unknown as Database,
    kind: 'pglite',
    description: options.description ?? 'pglite',
    pglite: client,
    async ping() {
      await client.query('select 1');
    },
    async close() {
      try {
        if (!client.closed) await client.close();
      } finally {
        await options.lock?.release();
      }
    },
  };
}

/**
 * Opens the configured database. PGlite directories are locked to this process (a second
 * process gets `DirectoryLockedError`); `memory://` needs no lock.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const client = postgres(options.databaseUrl, postgresOptions(options.poolMax ?? 10));
    const db = drizzlePostgres({ client, relations, logger: options.logger ?? false });
    const url = new URL(options.databaseUrl);
    return {
      db: db as unknown as Database,
      kind: 'postgres',
      sql: client,
      url: options.databaseUrl,
      description: `postgres://${url.hostname}:${url.port || 5432}${url.pathname}`,
      async ping() {
        await client`select 1`;
      },
      async close() {
        await client.end({ timeout: 5 });
      },
    };
  }
  const dir = options.pgliteDir ?? './.chipgate/pgdata';
  if (dir.startsWith('memory://')) {
    return wrapPglite(await PGlite.create(dir), {
      ...(options.logger ? { logger: options.logger } : {}),
      description: 'pglite:memory',
    });
  }
  const absolute = path.resolve(dir);
  mkdirSync(path.dirname(absolute), { recursive: true });
  const lock = await acquireDirectoryLock(absolute);
  try {
    const client = await PGlite.create(absolute);
    return await wrapPglite(client, {
      ...(options.logger ? { logger: options.logger } : {}),
      description: `pglite:${dir}`,
      lock,
    });
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/**
 * Runs raw SQL and returns its rows, whichever driver is underneath (postgres.js returns an
 * array, PGlite a `{ rows }` object).
 */
export async function queryRows<T>(db: Database, query: SQLWrapper): Promise<T[]> {
  const result: unknown = await db.execute(query);
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
