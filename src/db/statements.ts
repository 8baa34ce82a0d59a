/**
 * The one seam every SQL statement passes, whoever sends it: drizzle (both drivers are wrapped
 * here before drizzle gets them), `queryRows`, and raw `(text, params)` statements
 * (`runStatement`). At this seam a statement
 * - gets a span (`db.query.text` is the statement with its `$n` placeholders, never the values)
 *   when tracing is on;
 * - has a deadline on a server (`timeoutMs`): a statement or a transaction that cannot start
 *   within it fails with `DatabaseTimeoutError` (so requests answer 503 in time while the
 *   database is unreachable); a transaction that got its connection too late is rolled back,
 *   never run after its request was answered; inside a transaction every statement has the
 *   same deadline on the server (`statement_timeout`, local to the transaction, so a pooler in
 *   transaction mode is fine), so a write waiting on a row lock fails with
 *   `DatabaseTimeoutError` too, and its transaction rolls back;
 * - is counted, for the pool gauges (`StatementSeam.stats`).
 */
import type { PGlite, Transaction as PGliteTransaction } from '@electric-sql/pglite';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type postgres from 'postgres';
import { settleWithin } from '../deadline.js';
import { DatabaseTimeoutError, hasSqlState } from './availability.js';

/** Connections in use and statements waiting for one (a pool's view, derived at the seam). */
export interface PoolStats {
  /** Connections busy with a statement or a transaction (at most the pool size). */
  inUse: number;
  /** Statements and transactions waiting for a connection. */
  waiting: number;
  /** The pool size (1 for PGlite, which runs one statement at a time). */
  max: number;
}

/** The seam of one database handle. */
export interface StatementSeam {
  /** Runs one statement: span, deadline (`cancel` stops it when the deadline passes), count. */
  statement<T>(text: string, run: () => PromiseLike<T>, cancel?: () => void): Promise<T>;
  /**
   * Runs `begin(started)`, a driver's transaction whose callback must call `started()` first:
   * it throws once the deadline to get a connection has passed.
   */
  transaction<T>(begin: (started: () => void) => Promise<T>): Promise<T>;
  stats(): PoolStats;
  /** The deadline of `SeamOptions`, in ms; undefined: none. */
  readonly timeoutMs: number | undefined;
}

/** Options of `createStatementSeam`. */
export interface SeamOptions {
  /** Deadline to start a statement or a transaction, in ms; undefined: none (PGlite). */
  timeoutMs?: number | undefined;
  /** Connections in the pool. */
  poolMax: number;
}

/**
 * SQLSTATEs of a statement the server gave up on: `57014` query_canceled (the transaction's
 * `statement_timeout`), `55P03` lock_not_available.
 */
const SERVER_TIMEOUT_STATES: ReadonlySet<string> = new Set(['57014', '55P03']);

/**
 * The first statement of a transaction on a server with a deadline: the deadline as its
 * `statement_timeout`, for this transaction only (`set_config(..., true)` is `SET LOCAL`; no
 * session state survives it, as PgBouncer's transaction mode requires). One fixed text per
 * deadline, so postgres.js prepares it once per connection.
 */
function transactionDeadlineSql(timeoutMs: number): string {
  return `select set_config('statement_timeout', '${Math.trunc(timeoutMs)}', true)`;
}

/** The SQL keyword a span is named after (`select`, `insert`, ...). */
function operationOf(text: string): string {
  const match = /^\s*(?:\/\*.*?\*\/\s*)*([a-z]+)/is.exec(text);
  return (match?.[1] ?? 'sql').toLowerCase();
}

/** Runs one statement in a span named after its SQL keyword (text without values). */
function traced<R>(text: string, run: () => PromiseLike<R>): Promise<R> {
  return trace
    .getTracer('chipgate')
    .startActiveSpan(
      operationOf(text),
      { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'db.query.text': text } },
      async (span) => {
        try {
          return await run();
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          throw error;
        } finally {
          span.end();
        }
      },
    );
}

/** Creates the seam for one handle; see the module comment. */
export function createStatementSeam(options: SeamOptions): StatementSeam {
  let held = 0;

  function withDeadline<T>(
    work: () => Promise<T>,
    onTimeout: () => void,
    isStarted: () => boolean,
  ): Promise<T> {
    const { timeoutMs } = options;
    if (!timeoutMs) return work();
    // The deadline measures the database, not this process's own lag (`settleWithin`).
    return settleWithin(work(), timeoutMs, () => {
      if (isStarted()) return undefined;
      onTimeout();
      return new DatabaseTimeoutError(timeoutMs);
    });
  }

  return {
    statement(text, run, cancel) {
      return traced(text, async () => {
        held += 1;
        try {
          return await withDeadline(
            async () => run(),
            () => cancel?.(),
            () => false,
          );
        } finally {
          held -= 1;
        }
      });
    },
    async transaction(begin) {
      let started = false;
      let abandoned = false;
      held += 1;
      try {
        return await withDeadline(
          () =>
            begin(() => {
              if (abandoned) throw new DatabaseTimeoutError(options.timeoutMs ?? 0);
              started = true;
            }),
          () => {
            abandoned = true;
          },
          () => started,
        );
      } catch (error) {
        // The server gave up on a statement at the transaction's deadline (it rolled back).
        if (options.timeoutMs && hasSqlState(error, SERVER_TIMEOUT_STATES)) {
          throw new DatabaseTimeoutError(options.timeoutMs, { cause: error });
        }
        throw error;
      } finally {
        held -= 1;
      }
    },
    stats() {
      return {
        inUse: Math.min(held, options.poolMax),
        waiting: Math.max(0, held - options.poolMax),
        max: options.poolMax,
      };
    },
    timeoutMs: options.timeoutMs,
  };
}

type PostgresClient = postgres.Sql | postgres.TransactionSql;

/**
 * The postgres.js client as drizzle should see it: `unsafe` (every drizzle statement), `begin`
 * and `savepoint` go through the seam; statements inside a transaction do not count as holding
 * another connection.
 */
export function instrumentPostgres<T extends PostgresClient>(
  client: T,
  seam: StatementSeam,
  inTransaction = false,
): T {
  const statement = <R>(text: string, query: { cancel(): void }, run: () => PromiseLike<R>) =>
    // Inside a transaction: a span only; the transaction already holds its connection.
    inTransaction ? traced(text, run) : seam.statement(text, run, () => query.cancel());
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'unsafe') {
        return (text: string, params?: unknown[], queryOptions?: postgres.UnsafeQueryOptions) => {
          const query = target.unsafe(text, params as never, queryOptions);
          return {
            values: () => statement(text, query, () => query.values()),
            // biome-ignore lint/suspicious/noThenProperty: drizzle awaits the query itself.
            then: <A, B>(
              onFulfilled?: (value: Awaited<typeof query>) => A | PromiseLike<A>,
              onRejected?: (reason: unknown) => B | PromiseLike<B>,
            ) => statement(text, query, () => query).then(onFulfilled, onRejected),
          };
        };
      }
      if (property === 'begin' && 'begin' in target) {
        return (...args: unknown[]) => {
          const callback = args.pop() as (tx: postgres.TransactionSql) => Promise<unknown>;
          return seam.transaction((started) =>
            (target as postgres.Sql).begin(...(args as []), async (tx) => {
              started();
              if (seam.timeoutMs) await tx.unsafe(transactionDeadlineSql(seam.timeoutMs));
              return callback(instrumentPostgres(tx, seam, true));
            }),
          );
        };
      }
      if (property === 'savepoint' && 'savepoint' in target) {
        return (callback: (tx: postgres.TransactionSql) => Promise<unknown>) =>
          (target as postgres.TransactionSql).savepoint((tx) =>
            callback(instrumentPostgres(tx, seam, true)),
          );
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

type PGliteClient = PGlite | PGliteTransaction;

/** PGlite as drizzle should see it: `query` and `transaction` go through the seam. */
export function instrumentPglite<T extends PGliteClient>(
  client: T,
  seam: StatementSeam,
  inTransaction = false,
): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'query') {
        return (text: string, params?: unknown[], queryOptions?: unknown) => {
          const run = () => target.query(text, params, queryOptions as never);
          return inTransaction ? traced(text, run) : seam.statement(text, run);
        };
      }
      if (property === 'transaction' && 'transaction' in target) {
        return (callback: (tx: PGliteTransaction) => Promise<unknown>) =>
          seam.transaction((started) =>
            (target as PGlite).transaction(async (tx) => {
              started();
              return callback(instrumentPglite(tx, seam, true));
            }),
          );
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
