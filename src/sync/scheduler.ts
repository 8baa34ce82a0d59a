/**
 * The scheduled Federal Register sync: each gateway instance runs one scheduler, and each
 * cron slot is synced once across all of them.
 *
 * - *Ticker* (every instance): at each slot (and at start, for the latest slot, so a missed
 *   slot is caught up once), unless the slot already has a row in `sync_runs`, it sends a job
 *   `{ slot }` to the job queue with the slot as singleton key (pg-boss's `short` policy keeps
 *   one queued job per key, so instances sending together make one job).
 * - *Worker* (every instance): pg-boss hands each job to one worker (polling, `FOR UPDATE SKIP
 *   LOCKED`). The worker claims the slot in `sync_runs` (`claimSyncSlot`: a slot already
 *   succeeded or running elsewhere is skipped, and so is any slot while another run is still
 *   going, so runs never overlap; until it is past, the ticker sends that slot again within
 *   `MAX_SLEEP_MS`), re-reads the trailing window (documents
 *   published since slot - window days) and records the outcome. A failed or interrupted run
 *   throws, so pg-boss retries it (on any instance) after `RETRY_DELAY_S`; a worker that died
 *   mid-run has its job expire after `EXPIRE_S`, and the retry takes the stale claim over.
 *
 * Only what changed is written (see `upsertDocument`): an unchanged document causes no write,
 * so no event row and no change notification.
 */
import { hostname } from 'node:os';
import type PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import { latestSlot, nextSlot, windowStart } from '../cron.js';
import type { Database, DatabaseHandle } from '../db/client.js';
import { startJobQueue } from '../db/job-queue.js';
import { claimSyncSlot, finishSyncRun, syncSlotSeen } from '../db/sync-runs.js';
import type { FederalRegisterClient } from '../sources/federal-register.js';
import { type SyncResult, syncFederalRegister } from './federal-register.js';
import type { SyncObserver } from './metrics.js';

/** The source name in `sync_runs`, metrics and logs. */
export const FEDERAL_REGISTER_SYNC = 'federal-register';
/** The job queue's queue of scheduled Federal Register runs. */
export const FEDERAL_REGISTER_QUEUE = 'sync-federal-register';
/** A job (and a claim) older than this is presumed dead: its job expires and is retried. */
export const EXPIRE_S = 15 * 60;
/** Retries of a failed run, and the delay before each (seconds, doubled each time). */
const RETRY_LIMIT = 2;
const RETRY_DELAY_S = 30;
/** The ticker wakes at least this often (a clock stepped, a slot missed while busy). */
const MAX_SLEEP_MS = 60_000;

/** The job's payload. */
interface SlotJob {
  /** The slot, ISO 8601. */
  slot: string;
}

/** What a scheduler needs; I/O (database, upstream, clock) is passed in. */
export interface SyncSchedulerOptions {
  /** The gateway's database (the job queue runs over the same connection). */
  handle: DatabaseHandle;
  /** Cron expression of the slots (5 or 6 fields, UTC). */
  cron: string;
  /** Days before the slot whose documents each run re-reads. */
  windowDays: number;
  /** The upstream, with a timeout suited to pages of 100 documents. */
  client: FederalRegisterClient;
  log: Logger;
  observer: SyncObserver;
  /** Unix milliseconds now (default `Date.now`). */
  now?: () => number;
  /** How often the worker polls the queue, in seconds (default 2; pg-boss's minimum 0.5). */
  pollingIntervalSeconds?: number;
  /** Documents per upstream page (default 100). */
  pageSize?: number;
  /** Names this instance in `sync_runs` (default `host:pid`). */
  instance?: string;
}

/** A running scheduler. */
export interface SyncScheduler {
  /** The next slot after now. */
  nextDue(): Date;
  /** Stops the ticker, interrupts a run in progress (recorded as failed, retried elsewhere), stops the worker. */
  stop(): Promise<void>;
}

/** Starts the job queue, the worker and the ticker; resolves once the first tick ran. */
export async function startSyncScheduler(options: SyncSchedulerOptions): Promise<SyncScheduler> {
  const now = options.now ?? Date.now;
  const log = options.log.child({ sync: FEDERAL_REGISTER_SYNC });
  const instance = options.instance ?? `${hostname()}:${process.pid}`;
  const db = options.handle.db;
  const boss = await startJobQueue(options.handle, {
    pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2,
    onError: (error) => log.error({ err: error }, 'job queue error'),
  });
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  try {
    await ensureQueue(boss);
    await boss.work<SlotJob>(
      FEDERAL_REGISTER_QUEUE,
      { pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2, batchSize: 1 },
      async (jobs) => {
        for (const job of jobs) await runSlot(new Date(job.data.slot));
      },
    );
  } catch (error) {
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
    throw error;
  }

  async function runSlot(slot: Date): Promise<void> {
    const since = windowStart(slot, options.windowDays);
    const attempt = await claimSyncSlot(db, {
      source: FEDERAL_REGISTER_SYNC,
      slot,
      instance,
      since,
      staleAfterSeconds: EXPIRE_S,
    });
    if (attempt === null) {
      log.debug({ slot }, 'sync slot taken, or another run still going: skipped');
      options.observer.runFinished(FEDERAL_REGISTER_SYNC, 'skipped');
      return;
    }
    const started = now();
    log.info({ slot, since, attempt }, 'scheduled sync started');
    let result: SyncResult;
    try {
      result = await syncFederalRegister(db, options.client, {
        since,
        pageSize: options.pageSize ?? 100,
        signal: abort.signal,
      });
    } catch (error) {
      result = {
        counts: { created: 0, linked: 0, updated: 0, unchanged: 0, failed: 0 },
        total: 0,
        interrupted: false,
        error: error as Error,
      };
    }
    const seconds = (now() - started) / 1000;
    const error = result.interrupted
      ? 'interrupted: the instance shut down'
      : result.error
        ? (result.error.message ?? String(result.error))
        : undefined;
    const outcome = result.interrupted ? 'interrupted' : error ? 'failed' : 'succeeded';
    await recordRun(db, slot, result, error);
    options.observer.runFinished(FEDERAL_REGISTER_SYNC, outcome, result.counts, seconds, now());
    const fields = { slot, since, attempt, ...result.counts, total: result.total, seconds };
    if (error) {
      log.error({ ...fields, error }, 'scheduled sync failed; the job queue retries it');
      throw new Error(error);
    }
    log.info(fields, 'scheduled sync finished');
  }

  async function tick(): Promise<void> {
    const slot = latestSlot(options.cron, now());
    try {
      if (!(await syncSlotSeen(db, FEDERAL_REGISTER_SYNC, slot))) {
        const id = await boss.send(
          FEDERAL_REGISTER_QUEUE,
          { slot: slot.toISOString() } satisfies SlotJob,
          { singletonKey: slot.toISOString() },
        );
        if (id) log.debug({ slot, job: id }, 'sync slot queued');
      }
    } catch (error) {
      log.error({ err: error, slot }, 'could not queue the sync slot; the next tick tries again');
    }
  }

  function schedule(): void {
    if (abort.signal.aborted) return;
    const wait = Math.min(
      Math.max(nextSlot(options.cron, now()).getTime() - now(), 0),
      MAX_SLEEP_MS,
    );
    timer = setTimeout(() => {
      ticking = tick().finally(schedule);
    }, wait);
    timer.unref();
  }

  ticking = tick();
  await ticking;
  schedule();

  let stopping: Promise<void> | undefined;
  return {
    nextDue: () => nextSlot(options.cron, now()),
    stop() {
      stopping ??= (async () => {
        abort.abort();
        clearTimeout(timer);
        await ticking;
        // The run in progress stops after its current document (the signal), records itself
        // as failed and throws: pg-boss marks the job failed, to be retried by an instance
        // that stays.
        await stopQueue(boss);
      })();
      return stopping;
    },
  };
}

/**
 * Creates the queue unless it exists. Instances starting together may create it at once, and
 * pg-boss's `create_queue` (a partition table per queue) can then fail with a deadlock: the
 * loser finds the queue made by the winner, or tries again.
 */
async function ensureQueue(boss: PgBoss): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (await boss.getQueue(FEDERAL_REGISTER_QUEUE)) return;
    try {
      await boss.createQueue(FEDERAL_REGISTER_QUEUE, {
        name: FEDERAL_REGISTER_QUEUE,
        policy: 'short',
        retryLimit: RETRY_LIMIT,
        retryDelay: RETRY_DELAY_S,
        retryBackoff: true,
        expireInSeconds: EXPIRE_S,
      });
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 200));
    }
  }
}

/**
 * Stops pg-boss: no new jobs are fetched, the job in progress (which ends at its next
 * document) is waited for up to 30 s, then pg-boss fails whatever is still running.
 */
async function stopQueue(boss: PgBoss): Promise<void> {
  await boss.stop({ graceful: true, wait: true, close: false, timeout: 30_000 });
}

/** Writes the outcome of a claimed slot. */
async function recordRun(
  db: Database,
  slot: Date,
  result: SyncResult,
  error: string | undefined,
): Promise<void> {
  await finishSyncRun(db, FEDERAL_REGISTER_SYNC, slot, {
    state: error ? 'failed' : 'succeeded',
    total: result.total,
    created: result.counts.created,
    linked: result.counts.linked,
    updated: result.counts.updated,
    unchanged: result.counts.unchanged,
    failedDocuments: result.counts.failed,
    error,
  });
}
