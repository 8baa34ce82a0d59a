/**
 * Database client: PGlite (embedded, the default) or postgres.js (a real server, when
 * `DATABASE_URL` is set). Everything above this module sees one drizzle `Database` type.
 */
import { PGlite } from '@electric-sql/pglite';
import type { Logger, SQLWrapper } from 'drizzle-orm';
import type { PgAsyncDatabase } from 'drizzle-orm/pg-core/async/db';
import type { PgQueryResultHKT } from 'drizzle-orm/pg-core/session';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { DirectoryLock } from './lock.js';
import { type OpenedPglite, openPgliteDirectory, pgliteOptions } from './pglite-open.js';
import { type Pooling, type PrepareMode, poolingOf } from './pooler.js';
import { type Relations, relations } from './relations.js';
import {
  createStatementSeam,
  instrumentPglite,
  instrumentPostgres,
  type PoolStats,
} from './statements.js';
import type { PreparedBy } from './template.js';

/** The drizzle database every module above the client uses, whichever driver is underneath. */
export type Database = PgAsyncDatabase<PgQueryResultHKT, Relations>;

/** The statement logger of each open database (drizzle keeps its own out of reach). */
const statementLoggers = new WeakMap<Database, Logger>();

/** An open database with its driver-specific lifecycle. */
export interface DatabaseHandle {
  db: Database;
  /** `pglite` (embedded) or `postgres` (a server through postgres.js). */
  kind: 'pglite' | 'postgres';
  /** A short description for logs, with no credentials (e.g. `pglite:./.chipgate/pgdata`). */
  description: string;
  /** Runs `select 1`; rejects when the database is unreachable (or after the deadline). */
  ping(): Promise<void>;
  /** Connections in use and statements waiting for one (see `PoolStats`). */
  pool(): PoolStats;
  /** Closes connections (postgres.js: waits up to 5 s for queries in flight), releases locks. */
  close(): Promise<void>;
  /** The underlying PGlite instance when `kind` is `pglite` (tests clone it). */
  pglite?: PGlite;
  /** PGlite directories: how the directory was made ready (a template copy, or `existing`). */
  preparedBy?: PreparedBy;
  /** The underlying postgres.js client when `kind` is `postgres`. */
  sql?: postgres.Sql;
  /**
   * The pool's server URL (`DATABASE_URL`) when `kind` is `postgres`; connections outside the
   * pool that need a session use `sessionUrl`. It holds credentials: never log it (use
   * `description`).
   */
  url?: string;
  /**
   * Where sessions go (the LISTEN connection, migrations' lock): `CHIPGATE_DATABASE_DIRECT_URL`
   * when set, else `url`. Holds credentials: never log it.
   */
  sessionUrl?: string;
  /** On a server opened with `prepare`: what the probe found and decided (see pooler.ts). */
  pooling?: Pooling;
}

/** Options for `openDatabase`. */
export interface OpenDatabaseOptions {
  /** postgres:// URL of a server; when absent, PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory, or `memory://` for an in-memory database. */
  pgliteDir?: string;
  /**
   * PGlite's `shared_buffers` (a PostgreSQL size, e.g. `16MB`); absent: PGlite's default
   * (128MB). Its buffer pool lives in the WebAssembly memory, so it is RSS of this process.
   */
  pgliteSharedBuffers?: string | undefined;
  /** Upper bound of the postgres.js pool. */
  poolMax?: number;
  /**
   * A server URL for sessions (LISTEN, migrations) when `databaseUrl` points at a pooler in
   * transaction mode; absent: `databaseUrl` serves both.
   */
  directUrl?: string | undefined;
  /**
   * Named prepared statements on the pool (`CHIPGATE_DATABASE_PREPARE`). Given, the server is
   * probed first (pooler.ts: prepared statements, `jit` startup parameter, shared sessions), and
   * `on` where statements do not survive is a `PoolerSetupError`. Absent: prepared, no probe.
   */
  prepare?: PrepareMode;
  /** drizzle logger, e.g. a statement counter. */
  logger?: Logger;
  /**
   * On a server: how long a statement or transaction may wait to start, and how long each
   * statement inside a transaction may run (its `statement_timeout`, set for that transaction
   * only), before it fails with `DatabaseTimeoutError` (requests then answer 503; the
   * transaction rolls back); default none.
   */
  timeoutMs?: number;
  /**
   * PGlite directories only: a new directory starts as a copy of the migrated, seeded template
   * of `store` (default: node_modules/.cache/chipgate/pglite-templates; see template.ts).
   * Absent: PGlite runs `initdb` in a new directory (the CLI).
   */
  template?: { store?: string | undefined };
  /**
   * PGlite directories only: the directory already being opened (`openPgliteDirectory`), e.g.
   * by `npm start`'s entry while the modules load; used instead of opening it here.
   */
  opening?: Promise<OpenedPglite>;
}

/** Startup parameters of the gateway's server sessions (see `postgresOptions`). */
const SESSION_PARAMETERS = { application_name: 'chipgate', TimeZone: 'UTC', jit: 'off' };

/**
 * postgres.js settings shared by the gateway, the CLI and tests. `pool`: behind a pooler that
 * drops prepared statements (`prepare: false`) or refuses the `jit` startup parameter
 * (`jitParameter: false`; JIT is then off by the role's default, see `ensureJitOff`).
 */
export function postgresOptions(
  poolMax: number,
  pool: { prepare?: boolean; jitParameter?: boolean } = {},
): postgres.Options<Record<string, never>> {
  const { jit: _jit, ...tracked } = SESSION_PARAMETERS;
  return {
    max: poolMax,
    prepare: pool.prepare ?? true,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    // Sessions run in UTC so timestamps and `date` casts never depend on the server's zone.
    // No JIT compilation: its time grows with the size of a statement (a planned read of many
    // aliases compiled 1,884 functions in 1.4 s to run for 0.15 s), not with the rows it reads,
    // so the cost limits could not bound it; the gateway's statements are short reads.
    // PgBouncer tracks TimeZone (it sets it on whichever server connection runs a statement),
    // so UTC holds through it too; it refuses `jit`.
    connection: pool.jitParameter === false ? tracked : SESSION_PARAMETERS,
  };
}

/** Wraps an existing PGlite instance (already opened) in a handle. */
export async function wrapPglite(
  client: PGlite,
  options: { logger?: Logger; description?: string; lock?: DirectoryLock } = {},
): Promise<DatabaseHandle> {
  await client.exec(`SET TIME ZONE 'UTC'`);
  // In process: nothing to wait for, so no deadline; one statement runs at a time.
  const seam = createStatementSeam({ poolMax: 1 });
  const instrumented = instrumentPglite(client, seam);
  const db = drizzlePglite({ client: instrumented, relations, logger: options.logger ?? false });
  if (options.logger) statementLoggers.set(db as unknown as Database, options.logger);
  return {
    db: db as unknown as Database,
    kind: 'pglite',
    description: options.description ?? 'pglite',
    pglite: client,
    async ping() {
      await instrumented.query('select 1');
    },
    pool: () => seam.stats(),
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
    const poolMax = options.poolMax ?? 10;
    const pooling = options.prepare
      ? await poolingOf(options.databaseUrl, options.directUrl, options.prepare)
      : undefined;
    const client = postgres(
      options.databaseUrl,
      postgresOptions(poolMax, {
        ...(pooling ? { prepare: pooling.prepared, jitParameter: pooling.jit !== 'default' } : {}),
      }),
    );
    const seam = createStatementSeam({ poolMax, timeoutMs: options.timeoutMs });
    const instrumented = instrumentPostgres(client, seam);
    const db = drizzlePostgres({
      client: instrumented,
      relations,
      logger: options.logger ?? false,
    });
    if (options.logger) statementLoggers.set(db as unknown as Database, options.logger);
    const url = new URL(options.databaseUrl);
    return {
      db: db as unknown as Database,
      kind: 'postgres',
      sql: client,
      url: options.databaseUrl,
      sessionUrl: options.directUrl ?? options.databaseUrl,
      ...(pooling ? { pooling } : {}),
      description: `postgres://${url.hostname}:${url.port || 5432}${url.pathname}`,
      async ping() {
        await instrumented.unsafe('select 1');
      },
      pool: () => seam.stats(),
      async close() {
        await client.end({ timeout: 5 });
      },
    };
  }
  const dir = options.pgliteDir ?? './.chipgate/pgdata';
  if (dir.startsWith('memory://')) {
    return wrapPglite(await PGlite.create(dir, pgliteOptions(options.pgliteSharedBuffers)), {
      ...(options.logger ? { logger: options.logger } : {}),
      description: 'pglite:memory',
    });
  }
  const opened = await (options.opening ??
    openPgliteDirectory(dir, {
      sharedBuffers: options.pgliteSharedBuffers,
      ...(options.template ? { templateStore: options.template.store } : {}),
    }));
  try {
    const handle = await wrapPglite(opened.client, {
      ...(options.logger ? { logger: options.logger } : {}),
      description: `pglite:${dir}`,
      lock: opened.lock,
    });
    return { ...handle, preparedBy: opened.preparedBy };
  } catch (error) {
    await opened.client.close().catch(() => {});
    await opened.lock.release();
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

/**
 * Runs a statement compiled once (text with `$1`, `$2`, ... placeholders) with this request's
 * values, and returns its rows, through the same seam as drizzle's statements (span, deadline,
 * pool count). On a server it is a named prepared statement (postgres.js prepares each
 * distinct text once per connection), so a statement run again is neither parsed nor planned
 * again. The database's statement logger sees it like any drizzle statement.
 */
export async function runStatement<T = Record<string, unknown>>(
  db: Database,
  text: string,
  params: readonly unknown[] = [],
): Promise<T[]> {
  statementLoggers.get(db)?.logQuery(text, [...params]);
  const client = (db as unknown as { $client: postgres.Sql | PGlite }).$client;
  if ('unsafe' in client) {
    const rows = await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
      prepare: true,
    });
    return [...rows] as T[];
  }
  return (await client.query<T>(text, [...params])).rows;
}
