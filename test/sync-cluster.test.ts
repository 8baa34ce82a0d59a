/**
 * The scheduled sync across three real gateway processes on one PostgreSQL database, every
 * three seconds against the fixture upstream: each slot runs once (one row per slot in
 * `sync_runs`, one claim each, no more upstream searches than claims), unchanged documents
 * cause no change notification, a document changed upstream is updated once and announced once
 * to an SSE subscriber of another instance, every instance shows its runs in `/metrics`, and
 * SIGTERM stops each instance cleanly, worker included.
 */
import { hostname } from 'node:os';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSyncRuns, type SyncRun } from '../src/db/sync-runs.js';
import { FEDERAL_REGISTER_SYNC } from '../src/sync/scheduler.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';
import {
  type ChildGateway,
  freePort,
  killChildren,
  START_TIMEOUT_MS,
  startChildGateway,
} from './helpers/server.js';
import { subscribeSse } from './helpers/subscribers.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

const CRON = '*/3 * * * * *';

describe.runIf(backend === 'postgres')('the scheduled sync on three instances', () => {
  let upstream: Upstream;
  let database: TestDatabase;
  let listener: postgres.Sql | undefined;
  const gateways: (ChildGateway & { metricsUrl: string })[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    database = await createTestDatabase();
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const started = await Promise.all(
      ports.map((metricsPort) =>
        startChildGateway({
          DATABASE_URL: database.url as string,
          CHIPGATE_SYNC_FR_CRON: CRON,
          // Wide enough for every fixture document (2022 on), whatever today's date.
          CHIPGATE_SYNC_FR_WINDOW_DAYS: '36500',
          CHIPGATE_FEDERAL_REGISTER_URL: `${upstream.url}/fr`,
          CHIPGATE_SOURCE_RETRIES: '0',
          CHIPGATE_METRICS_PORT: String(metricsPort),
        }).then((gateway) =>
          Object.assign(gateway, { metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` }),
        ),
      ),
    );
    gateways.push(...started);
  }, START_TIMEOUT_MS * 2);

  afterAll(async () => {
    await listener?.end();
    await killChildren();
    await database?.close();
    await upstream?.close();
  });

  async function runs(): Promise<SyncRun[]> {
    return (await listSyncRuns(database.db, FEDERAL_REGISTER_SYNC, 1000)).reverse();
  }

  async function waitForRuns(ready: (rows: SyncRun[]) => boolean, timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await runs();
      if (ready(rows)) return rows;
      if (Date.now() > deadline) {
        throw new Error(`runs not as expected after ${timeoutMs} ms: ${JSON.stringify(rows)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  const succeeded = (rows: SyncRun[]) => rows.filter((row) => row.state === 'succeeded');

  it('runs each slot once, announces an upstream change once, and stops cleanly', async () => {
    for (const gateway of gateways) {
      await gateway.waitForLog('scheduled Federal Register sync on', 10_000);
    }
    const first = succeeded(await waitForRuns((rows) => succeeded(rows).length >= 1))[0];
    // The seeded store has the six curated rules; the register adds three documents.
    expect(first).toMatchObject({
      attempts: 1,
      total: 9,
      created: 3,
      linked: 6,
      updated: 0,
      failedDocuments: 0,
    });

    // From here on: change notifications on the database, and a subscriber on instance 2.
    const changes: string[] = [];
    listener = postgres(database.url as string, { max: 1, onnotice: () => {} });
    await listener.listen('chipgate_changes', (payload) => {
      changes.push(payload);
    });
    const subscriber = await subscribeSse(
      gateways[1]?.url as string,
      'subscription { policyDecisionUpdated { decision { slug } fromStatus toStatus } }',
    );
    expect(subscriber.status).toBe(200);
    try {
      // Wait for the first run to be over everywhere: two more runs, both unchanged.
      const settled = succeeded(await runs()).length;
      const quiet = succeeded(await waitForRuns((rows) => succeeded(rows).length >= settled + 2));
      for (const run of quiet.slice(1)) {
        expect(run).toMatchObject({ created: 0, linked: 6, unchanged: 3, updated: 0 });
      }
      expect(changes).toEqual([]);
      expect(subscriber.results).toEqual([]);

      // Upstream the proposed rule becomes final: a status change.
      const proposed = upstream.documents.get('2024-05678');
      upstream.documents.set('2024-05678', {
        ...(proposed as any),
        type: 'Rule',
        action: 'Final rule.',
      });
      const before = quiet.length;
      const after = succeeded(
        await waitForRuns((rows) => succeeded(rows).length >= before + 3),
      ).slice(before);
      // Updated by exactly one run; the runs after it find it unchanged.
      expect(after.map((run) => run.updated).sort()).toEqual([0, 0, 1]);
      expect(after.at(-1)).toMatchObject({ updated: 0, unchanged: 3 });
      const [event] = await subscriber.waitForResults(1, 30_000);
      expect(event).toEqual({
        data: {
          policyDecisionUpdated: {
            decision: { slug: 'fr-2024-05678' },
            fromStatus: 'PROPOSED',
            toStatus: 'IN_EFFECT',
          },
        },
      });
      // Announced once: nothing more arrives while two more slots pass.
      const seen = succeeded(await runs()).length;
      await waitForRuns((rows) => succeeded(rows).length >= seen + 2);
      expect(subscriber.results).toHaveLength(1);
      // The only writes since the listener started: that update (the decision and its history).
      expect(changes.length).toBeGreaterThan(0);
      for (const payload of changes) expect(payload).toContain('fr-2024-05678');
      const tables = changes.map((payload) => JSON.parse(payload).table).sort();
      expect(tables).toEqual(['policy_decision_updates', 'policy_decisions']);
    } finally {
      await subscriber.close();
    }

    // Every instance shows its share in /metrics (its own port, no key).
    const countedBefore = succeeded(await runs()).length;
    let reported = 0;
    for (const gateway of gateways) {
      const text = await (await fetch(gateway.metricsUrl)).text();
      expect(text).toContain('# TYPE chipgate_sync_runs_total counter');
      for (const line of text.split('\n')) {
        if (
          line.startsWith('chipgate_sync_runs_total{source="federal-register",outcome="succeeded"}')
        ) {
          reported += Number(line.split(' ').at(-1));
        }
      }
    }

    // SIGTERM: each instance stops its worker and exits cleanly.
    const exits = await Promise.all(gateways.map((gateway) => gateway.stop(60_000)));
    expect(exits).toEqual(gateways.map(() => ({ code: 0, signal: null })));
    for (const gateway of gateways) {
      expect(gateway.logs.some((line) => line.msg === 'stopped cleanly')).toBe(true);
    }

    // Once per slot: one claim per row (the key is the slot), no more searches than claims.
    const all = await runs();
    expect(all.every((run) => run.attempts === 1)).toBe(true);
    const done = succeeded(all);
    expect(reported).toBeGreaterThanOrEqual(countedBefore);
    expect(reported).toBeLessThanOrEqual(done.length);
    const interrupted = all.filter((run) => run.state !== 'succeeded');
    expect(interrupted.length).toBeLessThanOrEqual(1);
    for (const run of interrupted) {
      expect(run).toMatchObject({ state: 'failed', error: 'interrupted: the instance shut down' });
    }
    const searches = upstream.log.filter(
      (entry) =>
        entry.path.startsWith('/fr/documents.json') &&
        new URL(entry.path, upstream.url).searchParams.get('page') === '1',
    ).length;
    expect(searches).toBeGreaterThanOrEqual(done.length);
    expect(searches).toBeLessThanOrEqual(all.length);
    expect(done.reduce((sum, run) => sum + (run.updated ?? 0), 0)).toBe(1);
    expect(done.reduce((sum, run) => sum + (run.created ?? 0), 0)).toBe(3);
    // Slots are the cron's (every 3 s), each once.
    for (const run of all) expect(run.slot.getTime() % 3000).toBe(0);
    // Runs were done by these instances only.
    const pids = new Set(gateways.map((gateway) => `${hostname()}:${gateway.pid}`));
    for (const run of all) expect(pids.has(run.instance)).toBe(true);
    const share = new Map<string, number>();
    for (const run of all) share.set(run.instance, (share.get(run.instance) ?? 0) + 1);
    console.log(
      `sync-cluster: ${all.length} slots, ${searches} searches, runs per instance: ${[...share.values()].join(', ')}`,
    );
  }, 300_000);
});
