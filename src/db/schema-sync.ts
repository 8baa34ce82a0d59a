/**
 * Runs of scheduled syncs (re-exported by `schema.ts`, which drizzle-kit reads). One row per
 * source and cron slot: the primary key is what makes a slot run once across every gateway
 * instance (a worker claims the slot by inserting its row; see `src/db/sync-runs.ts`).
 */
import { sql } from 'drizzle-orm';
import { check, date, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * One scheduled run. `state`: `running` (claimed, not finished), `succeeded` (every page read;
 * documents that did not validate are counted in `failed_documents`), `failed` (a page could
 * not be read, the run was interrupted by a shutdown, or it threw; `error` says which; the job
 * queue retries it). `attempts` counts claims of the slot (1 when it ran once). `since` is the
 * first publication date of the trailing window the run re-read. Counts are documents.
 */
export const syncRuns = pgTable(
  'sync_runs',
  {
    source: text('source').notNull(),
    slot: timestamp('slot', { withTimezone: true }).notNull(),
    state: text('state').notNull(),
    attempts: integer('attempts').notNull().default(1),
    instance: text('instance').notNull(),
    since: date('since').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    total: integer('total'),
    created: integer('created'),
    linked: integer('linked'),
    updated: integer('updated'),
    unchanged: integer('unchanged'),
    failedDocuments: integer('failed_documents'),
    error: text('error'),
  },
  (t) => [
    primaryKey({ columns: [t.source, t.slot] }),
    check('sync_runs_state_check', sql`${t.state} in ('running', 'succeeded', 'failed')`),
  ],
);
