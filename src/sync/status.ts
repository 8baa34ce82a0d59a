/**
 * `chipgate sync status`: the scheduled sync's configuration, when it is next due, and its
 * last runs as `sync_runs` records them (whichever instance ran them).
 */

import { nextSlot } from '../cron.js';
import type { Database } from '../db/client.js';
import { listSyncRuns, type SyncRun } from '../db/sync-runs.js';
import type { Env } from '../env.js';
import { FEDERAL_REGISTER_SYNC } from './scheduler.js';

/** One run as a line: slot, state, attempts, instance, window start, duration, counts, error. */
export function formatRun(run: SyncRun): string {
  const seconds =
    run.finishedAt && run.startedAt
      ? `${((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(1)}s`
      : '-';
  const counts =
    run.total === null
      ? ''
      : ` ${run.total} documents: ${run.created} created, ${run.linked} linked, ${run.updated} updated, ${run.unchanged} unchanged, ${run.failedDocuments} failed`;
  return (
    `  ${run.slot.toISOString()}  ${run.state}  attempts ${run.attempts}  ${run.instance}  since ${run.since}  ${seconds}${counts}` +
    (run.error ? `  error: ${run.error}` : '')
  );
}

/** The report `sync status` prints (several lines), at `nowMs` (Unix milliseconds). */
export async function syncStatus(db: Database, env: Env, nowMs: number): Promise<string> {
  const cron = env.CHIPGATE_SYNC_FR_CRON;
  const head = cron
    ? `Scheduled Federal Register sync: cron "${cron}" (UTC), window ${env.CHIPGATE_SYNC_FR_WINDOW_DAYS} days; next due ${nextSlot(cron, nowMs).toISOString()}.`
    : 'Scheduled Federal Register sync: off (CHIPGATE_SYNC_FR_CRON is not set).';
  const runs = await listSyncRuns(db, FEDERAL_REGISTER_SYNC, 10);
  if (runs.length === 0) return `${head}\nNo scheduled runs recorded.`;
  return [`${head}`, 'Last runs, newest first:', ...runs.map(formatRun)].join('\n');
}
