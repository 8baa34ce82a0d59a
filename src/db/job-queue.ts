/**
 * The job queue: pg-boss 10 (tables in the `pgboss` schema of our database, created and
 * migrated by pg-boss itself at start), over the connection the gateway already has instead of
 * pg-boss's own `pg` pool. pg-boss polls for jobs (no `LISTEN`) and takes only
 * transaction-scoped advisory locks, inside single multi-statement commands, so it works
 * behind PgBouncer in transaction mode; and through this adapter it runs on PGlite too.
 *
 * Why pg-boss 10.4.2: pg-boss 11 and 12 ask for Node >= 22.12 (12.20 added a PGlite backend),
 * 10.x is the last line for Node 20 and takes a custom `db` (`executeSql`). graphile-worker
 * LISTENs for jobs and has no PGlite path.
 */
import PgBoss from 'pg-boss';
import type { DatabaseHandle } from './client.js';

/** The schema pg-boss keeps its tables in. */
export const JOB_QUEUE_SCHEMA = 'pgboss';

/** pg-boss's view of a database: one statement text (maybe several commands) and its values. */
type Executor = (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>;

/**
 * A parameter as `pg` would send it: plain objects as JSON text (postgres.js would otherwise
 * send `[object Object]`); dates, arrays and scalars unchanged.
 */
function parameter(value: unknown): unknown {
  if (value === undefined) return null;
  if (value && typeof value === 'object' && !(value instanceof Date) && !Array.isArray(value)) {
    if (!(value instanceof Uint8Array)) return JSON.stringify(value);
  }
  return value;
}

/** The rows of the last command of a (possibly multi-command) result. */
function lastRows(result: unknown): unknown[] {
  if (Array.isArray(result) && result.length > 0 && Array.isArray(result.at(-1))) {
    return result.at(-1) as unknown[];
  }
  return Array.isArray(result) ? result : [];
}

/**
 * `executeSql` over the gateway's connection: postgres.js (a command without values goes as a
 * simple query on a reserved connection, since it may hold several commands and its own
 * transaction; one with values as an extended query, under the client's own `prepare`
 * setting) or PGlite (`exec` / `query`).
 */
export function executorOf(handle: DatabaseHandle): Executor {
  const { sql, pglite } = handle;
  if (sql) {
    return async (text, values) => {
      if (values && values.length > 0) {
        return { rows: lastRows(await sql.unsafe(text, values.map(parameter) as never[])) };
      }
      // Its own transaction (`BEGIN; ...; COMMIT`) in one message: postgres.js allows that on
      // a reserved connection only; PgBouncer keeps it on one server connection.
      const reserved = await sql.reserve();
      try {
        return { rows: lastRows(await reserved.unsafe(text).simple()) };
      } finally {
        reserved.release();
      }
    };
  }
  if (pglite) {
    return async (text, values) => {
      if (values && values.length > 0) {
        const result = await pglite.query(text, values.map(parameter));
        return { rows: result.rows };
      }
      const results = await pglite.exec(text);
      return { rows: results.at(-1)?.rows ?? [] };
    };
  }
  throw new Error('job queue: the database handle has neither a server client nor PGlite');
}

/** Options of the queue of one process. */
export interface JobQueueOptions {
  /** How often a worker polls for jobs, in seconds (pg-boss's minimum is 0.5). */
  pollingIntervalSeconds: number;
  /** Errors pg-boss reports outside a job (a failed maintenance query), for the log. */
  onError: (error: Error) => void;
}

/**
 * A started pg-boss on `handle` (its schema created or migrated on first start, under
 * pg-boss's own advisory lock, so instances starting together are safe). pg-boss's own cron
 * is off: its one-minute granularity is too coarse, and the slots are computed by the
 * scheduler (src/sync/scheduler.ts). Stop it (`stop`) before closing the database.
 */
export async function startJobQueue(
  handle: DatabaseHandle,
  options: JobQueueOptions,
): Promise<PgBoss> {
  const execute = executorOf(handle);
  const boss = new PgBoss({
    db: { executeSql: (text: string, values: unknown[]) => execute(text, values) },
    schema: JOB_QUEUE_SCHEMA,
    schedule: false,
    supervise: true,
    migrate: true,
    maintenanceIntervalSeconds: 60,
  } as PgBoss.ConstructorOptions);
  boss.on('error', options.onError);
  await boss.start();
  return boss;
}
