/**
 * Prometheus series of scheduled syncs, registered in the app's registry (src/metrics.ts):
 * - `chipgate_sync_runs_total{source, outcome}`: runs this instance finished, by outcome
 *   (`succeeded`, `failed`, `interrupted`), and slots it found taken (`skipped`: another
 *   instance ran or runs it);
 * - `chipgate_sync_documents_total{source, result}`: documents of those runs by result
 *   (`created`, `linked`, `updated`, `unchanged`, `failed`);
 * - `chipgate_sync_run_duration_seconds{source}`: duration of each run this instance did;
 * - `chipgate_sync_last_success_timestamp_seconds{source}`: when a run of this instance last
 *   succeeded (Unix seconds; absent until one has).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SyncCounts } from './federal-register.js';

/** How one scheduled run ended. */
export type SyncOutcome = 'succeeded' | 'failed' | 'interrupted' | 'skipped';

/** What the scheduler reports. */
export interface SyncObserver {
  /** A run ended (`counts` and `seconds` absent for `skipped`). */
  runFinished(
    source: string,
    outcome: SyncOutcome,
    counts?: SyncCounts,
    seconds?: number,
    finishedAtMs?: number,
  ): void;
}

/** Registers the sync series in `registry` and returns the observer that feeds them. */
export function createSyncMetrics(registry: Registry): SyncObserver {
  const runs = new Counter({
    name: 'chipgate_sync_runs_total',
    help: 'Scheduled sync runs this instance finished, by outcome (skipped: slot taken elsewhere).',
    labelNames: ['source', 'outcome'],
    registers: [registry],
  });
  const documents = new Counter({
    name: 'chipgate_sync_documents_total',
    help: 'Documents of the scheduled sync runs of this instance, by result.',
    labelNames: ['source', 'result'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'chipgate_sync_run_duration_seconds',
    help: 'Duration of the scheduled sync runs of this instance, in seconds.',
    labelNames: ['source'],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900],
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: 'chipgate_sync_last_success_timestamp_seconds',
    help: 'When a scheduled sync run of this instance last succeeded (Unix seconds).',
    labelNames: ['source'],
    registers: [registry],
  });
  return {
    runFinished(source, outcome, counts, seconds, finishedAtMs) {
      runs.inc({ source, outcome });
      if (counts) {
        for (const [result, count] of Object.entries(counts)) {
          documents.inc({ source, result }, count);
        }
      }
      if (seconds !== undefined) duration.observe({ source }, seconds);
      if (outcome === 'succeeded' && finishedAtMs !== undefined) {
        lastSuccess.set({ source }, finishedAtMs / 1000);
      }
    },
  };
}
