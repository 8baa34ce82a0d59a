/**
 * The scheduled Federal Register sync in process, on the run's backend (PGlite: the single
 * instance case; or a PostgreSQL database): pg-boss over the test database, a cron of every
 * two seconds, a clock set to 2026-02-01 (so the trailing window is known), the fixture
 * upstream. Each slot runs once and is recorded; unchanged documents write nothing (no event
 * row, no change notification); runs show in metrics, the log and `sync status`; stopping
 * during a run interrupts it (recorded as failed) without hanging.
 */
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowStart } from '../src/cron.js';
import { listSyncRuns, type SyncRun } from '../src/db/sync-runs.js';
import { loadEnv } from '../src/env.js';
import { FEDERAL_REGISTER_POLICY, FederalRegisterClient } from '../src/sources/federal-register.js';
import { Source } from '../src/sources/http.js';
import { createSyncMetrics } from '../src/sync/metrics.js';
import {
  FEDERAL_REGISTER_SYNC,
  type SyncScheduler,
  startSyncScheduler,
} from '../src/sync/scheduler.js';
import { syncStatus } from '../src/sync/status.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startUpstream, type Upstream, upstreamSourcesConfig } from './helpers/upstream.js';

const BASE = Date.parse('2026-02-01T00:00:00Z');
const WINDOW_DAYS = 250; // 2025-05-27 on: 2025-11111 (created) and 2026-00789 (curated, linked)
const CRON = '*/2 * * * * *';

let upstream: Upstream;
let database: TestDatabase;
let source: Source;
let scheduler: SyncScheduler | undefined;
const started = Date.now();
/** The injected clock: 2026-02-01T00:00:00Z when the file started, running at real speed. */
const now = () => BASE + (Date.now() - started);
const logs: Record<string, any>[] = [];
const registry = new Registry();

beforeAll(async () => {
  upstream = await startUpstream();
  database = await createTestDatabase();
  const config = upstreamSourcesConfig(upstream, {
    CHIPGATE_SOURCE_RETRIES: '0',
    CHIPGATE_SOURCE_TIMEOUT_MS: '30000',
  });
  source = new Source('federal-register', config.federalRegister, {
    ...FEDERAL_REGISTER_POLICY,
    userAgent: 'chipgate-tests',
  });
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, any>) },
  );
  scheduler = await startSyncScheduler({
    handle: database,
    cron: CRON,
    windowDays: WINDOW_DAYS,
    client: new FederalRegisterClient(source, config.federalRegister.baseUrl),
    log,
    observer: createSyncMetrics(registry),
    now,
    pollingIntervalSeconds: 0.5,
    instance: 'test-instance',
  });
}, 120_000);

afterAll(async () => {
  await scheduler?.stop();
  await source?.close();
  await database?.close();
  await upstream?.close();
});

/** The runs recorded, oldest slot first. */
async function runs(): Promise<SyncRun[]> {
  return (await listSyncRuns(database.db, FEDERAL_REGISTER_SYNC, 1000)).reverse();
}

/** Waits until `ready(runs)` holds (polling the table), failing with what is there. */
async function waitForRuns(ready: (rows: SyncRun[]) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await runs();
    if (ready(rows)) return rows;
    if (Date.now() > deadline) {
      throw new Error(`runs not as expected after ${timeoutMs} ms: ${JSON.stringify(rows)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const succeeded = (rows: SyncRun[]) => rows.filter((row) => row.state === 'succeeded');

async function historyRows(): Promise<number> {
  const result = await database.db.execute(
    sql`select count(*)::int as n from policy_decision_updates`,
  );
  const rows = (result as unknown as { rows?: { n: number }[] }).rows ?? (result as any);
  return Number(rows[0].n);
}

/** Collects `chipgate_changes` notifications (the response cache's change feed). */
async function listenForChanges(): Promise<{ payloads: string[]; stop: () => Promise<void> }> {
  const payloads: string[] = [];
  if (database.pglite) {
    const unlisten = await database.pglite.listen('chipgate_changes', (payload) => {
      payloads.push(payload);
    });
    return { payloads, stop: unlisten };
  }
  if (!database.sql) throw new Error('no client to listen with');
  const listening = await database.sql.listen('chipgate_changes', (payload) => {
    payloads.push(payload);
  });
  return { payloads, stop: () => listening.unlisten() };
}

/** One sample of a metric, by its labels as written in the exposition format. */
async function sample(name: string, labels: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('the scheduled sync in process', () => {
  it('runs each slot once over the trailing window, writes only changes, and reports its runs', async () => {
    const first = (await waitForRuns((rows) => succeeded(rows).length >= 1))[0] as SyncRun;
    expect(first).toMatchObject({
      source: 'federal-register',
      state: 'succeeded',
      attempts: 1,
      instance: 'test-instance',
      since: windowStart(first.slot, WINDOW_DAYS),
      total: 2,
      created: 1,
      linked: 1,
      updated: 0,
      unchanged: 0,
      failedDocuments: 0,
      error: null,
    });
    // A slot of the cron, on the injected clock.
    expect(first.slot.getTime() % 2000).toBe(0);
    expect(first.slot.getTime()).toBeGreaterThanOrEqual(BASE - 2000);
    expect(first.since).toMatch(/^2025-05-2[67]$/);
    // The upstream was asked for that window only.
    const firstPage = upstream.log.find((entry) => entry.path.startsWith('/fr/documents.json'));
    expect(
      new URL(firstPage?.path ?? '/', upstream.url).searchParams.get(
        'conditions[publication_date][gte]',
      ),
    ).toBe(first.since);

    // Unchanged documents: no write, so no status history and no change notification.
    const history = await historyRows();
    const changes = await listenForChanges();
    try {
      const quiet = await waitForRuns((rows) => succeeded(rows).length >= 3);
      for (const run of succeeded(quiet).slice(1)) {
        expect(run).toMatchObject({ attempts: 1, created: 0, linked: 1, unchanged: 1, updated: 0 });
      }
      expect(changes.payloads).toEqual([]);
      expect(await historyRows()).toBe(history);

      // Upstream corrects the notice's title: the next run updates it, once.
      const notice = upstream.documents.get('2025-11111');
      upstream.documents.set('2025-11111', {
        ...(notice as any),
        title: 'Advisory Committee Meeting Notice (corrected)',
      });
      const before = succeeded(quiet).length;
      const after = await waitForRuns((rows) => succeeded(rows).length >= before + 2);
      const later = succeeded(after).slice(before);
      expect(later.map((run) => run.updated)).toEqual([1, 0]);
      expect(later[1]).toMatchObject({ unchanged: 1 });
      // One statement updated the row: one notification, naming it.
      expect(changes.payloads).toHaveLength(1);
      expect(JSON.parse(changes.payloads[0] as string)).toMatchObject({
        table: 'policy_decisions',
        op: 'UPDATE',
      });
      expect(changes.payloads[0]).toContain('fr-2025-11111');
      // A title is not a status: no status history row.
      expect(await historyRows()).toBe(history);
    } finally {
      await changes.stop();
    }

    // Every slot once: consecutive slots, one row each, one upstream search per run.
    const all = await runs();
    expect(all.every((run) => run.attempts === 1)).toBe(true);
    expect(new Set(all.map((run) => run.slot.getTime())).size).toBe(all.length);
    const done = succeeded(all);
    const searches = upstream.log.filter(
      (entry) =>
        entry.path.startsWith('/fr/documents.json') &&
        new URL(entry.path, upstream.url).searchParams.get('page') === '1',
    ).length;
    expect(searches).toBeGreaterThanOrEqual(done.length);
    expect(searches).toBeLessThanOrEqual(all.length);

    // Metrics, log and `sync status` tell the same story.
    const counted = await sample(
      'chipgate_sync_runs_total',
      'source="federal-register",outcome="succeeded"',
    );
    expect(counted).toBeGreaterThanOrEqual(done.length);
    expect(
      await sample('chipgate_sync_documents_total', 'source="federal-register",result="created"'),
    ).toBe(1);
    expect(
      await sample('chipgate_sync_documents_total', 'source="federal-register",result="updated"'),
    ).toBe(1);
    expect(
      await sample('chipgate_sync_run_duration_seconds_count', 'source="federal-register"'),
    ).toBe(counted);
    const finished = logs.filter((line) => line.msg === 'scheduled sync finished');
    expect(finished.length).toBe(counted);
    expect(finished[0]).toMatchObject({ sync: 'federal-register', created: 1, linked: 1 });
    expect(typeof finished[0]?.seconds).toBe('number');

    const status = await syncStatus(
      database.db,
      loadEnv({ CHIPGATE_SYNC_FR_CRON: CRON, CHIPGATE_SYNC_FR_WINDOW_DAYS: String(WINDOW_DAYS) }),
      Date.parse('2026-03-01T10:00:01Z'),
    );
    const lines = status.split('\n');
    expect(lines[0]).toBe(
      `Scheduled Federal Register sync: cron "${CRON}" (UTC), window ${WINDOW_DAYS} days; next due 2026-03-01T10:00:02.000Z.`,
    );
    expect(lines[1]).toBe('Last runs, newest first:');
    expect(lines[2]).toContain(all.at(-1)?.slot.toISOString());
    expect(status).toContain(
      `${first.slot.toISOString()}  succeeded  attempts 1  test-instance  since ${first.since}`,
    );
    expect(status).toContain('2 documents: 1 created, 1 linked, 0 updated, 0 unchanged, 0 failed');
    expect(await syncStatus(database.db, loadEnv({}), Date.parse('2026-03-01T10:00:01Z'))).toMatch(
      /^Scheduled Federal Register sync: off \(CHIPGATE_SYNC_FR_CRON is not set\)\.\n/,
    );
  }, 180_000);

  it('stopping during a run interrupts it, records it as failed, and does not hang', async () => {
    // The register now never answers (a stalled upstream): a run will be waiting for a page
    // whose own deadline is 30 s away.
    upstream.misbehave('/fr/', { kind: 'hang' });
    const running = await waitForRuns((rows) => rows.some((row) => row.state === 'running'));
    const slot = running.find((row) => row.state === 'running')?.slot as Date;
    const stopping = Date.now();
    await scheduler?.stop();
    const tookMs = Date.now() - stopping;
    scheduler = undefined;
    // The run stops waiting for the page at once, well inside the gateway's 10 s shutdown
    // budget (it used to wait out the page's 30 s deadline); generous for a loaded machine.
    expect(tookMs).toBeLessThan(10_000);
    const row = (await runs()).find((run) => run.slot.getTime() === slot.getTime());
    expect(row).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: 'interrupted: the instance shut down',
    });
    expect(row?.finishedAt).toBeInstanceOf(Date);
    expect(
      await sample('chipgate_sync_runs_total', 'source="federal-register",outcome="interrupted"'),
    ).toBe(1);
    expect(logs.some((line) => line.msg.startsWith('scheduled sync failed'))).toBe(true);
    // Stopped: no new slot is claimed.
    const count = (await runs()).length;
    await new Promise((resolve) => setTimeout(resolve, 4500));
    expect((await runs()).length).toBe(count);
  }, 120_000);
});
