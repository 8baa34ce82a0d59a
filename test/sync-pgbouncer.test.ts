/**
 * The scheduled sync behind PgBouncer in transaction mode (Debian's 1.18: no protocol-level
 * prepared statements, no session state kept between transactions): a PgBouncer of the test's
 * own on a spare port in front of the test database, three schedulers (as three instances
 * would run them) over pooled postgres.js clients with `prepare: false`. pg-boss polls, and its
 * multi-command statements carry their own transaction, so each slot still runs once.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { drizzle } from 'drizzle-orm/postgres-js';
import pino from 'pino';
import postgres from 'postgres';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, type DatabaseHandle, postgresOptions } from '../src/db/client.js';
import { relations } from '../src/db/relations.js';
import { listSyncRuns, type SyncRun } from '../src/db/sync-runs.js';
import { FEDERAL_REGISTER_POLICY, FederalRegisterClient } from '../src/sources/federal-register.js';
import { Source } from '../src/sources/http.js';
import { createSyncMetrics } from '../src/sync/metrics.js';
import {
  FEDERAL_REGISTER_SYNC,
  type SyncScheduler,
  startSyncScheduler,
} from '../src/sync/scheduler.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startPgBouncer, type TestPgBouncer } from './helpers/pgbouncer.js';
import { startUpstream, type Upstream, upstreamSourcesConfig } from './helpers/upstream.js';

const _run = promisify(execFile);

describe.runIf(backend === 'postgres')(
  'the scheduled sync behind PgBouncer (transaction mode)',
  () => {
    let upstream: Upstream;
    let database: TestDatabase;
    let bouncer: TestPgBouncer | undefined;
    let bouncerUrl: string;
    const clients: postgres.Sql[] = [];
    const sources: Source[] = [];
    const schedulers: SyncScheduler[] = [];

    beforeAll(async () => {
      upstream = await startUpstream();
      database = await createTestDatabase();
      const server = new URL(database.url as string);
      bouncer = await startPgBouncer(Number(server.port || 5432), {
        default_pool_size: 4,
        max_client_conn: 100,
        ignore_startup_parameters: 'extra_float_digits,application_name,TimeZone,jit',
      });
      bouncerUrl = bouncer.urlFor(server.toString());
    }, 120_000);

    afterAll(async () => {
      await Promise.all(schedulers.map((scheduler) => scheduler.stop()));
      await Promise.all(clients.map((client) => client.end()));
      await Promise.all(sources.map((source) => source.close()));
      await database?.close();
      await upstream?.close();
      await bouncer?.stop();
    });

    /** A handle over PgBouncer as a gateway behind it has one: pooled, nothing prepared. */
    function pooledHandle(): DatabaseHandle {
      const sql = postgres(bouncerUrl, { ...postgresOptions(4), prepare: false });
      clients.push(sql);
      const db = drizzle({ client: sql, relations }) as unknown as Database;
      return {
        db,
        sql,
        kind: 'postgres',
        description: 'pgbouncer',
        ping: async () => {
          await sql`select 1`;
        },
        pool: () => ({ inUse: 0, waiting: 0, max: 4 }),
        close: () => sql.end(),
      };
    }

    it('runs each slot once through the pooler', async () => {
      const config = upstreamSourcesConfig(upstream, {
        CHIPGATE_SOURCE_RETRIES: '0',
        CHIPGATE_SOURCE_TIMEOUT_MS: '30000',
      });
      for (const instance of ['a', 'b', 'c']) {
        const source = new Source('federal-register', config.federalRegister, {
          ...FEDERAL_REGISTER_POLICY,
          userAgent: 'chipgate-tests',
        });
        sources.push(source);
        schedulers.push(
          await startSyncScheduler({
            handle: pooledHandle(),
            cron: '*/2 * * * * *',
            windowDays: 36_500,
            client: new FederalRegisterClient(source, config.federalRegister.baseUrl),
            log: pino({ level: 'silent' }),
            observer: createSyncMetrics(new Registry()),
            pollingIntervalSeconds: 0.5,
            instance,
          }),
        );
      }
      const deadline = Date.now() + 90_000;
      let rows: SyncRun[] = [];
      while (rows.filter((row) => row.state === 'succeeded').length < 4) {
        if (Date.now() > deadline) throw new Error(`too few runs: ${JSON.stringify(rows)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
        rows = await listSyncRuns(database.db, FEDERAL_REGISTER_SYNC, 100);
      }
      const stopping = Date.now();
      await Promise.all(schedulers.splice(0).map((scheduler) => scheduler.stop()));
      expect(Date.now() - stopping).toBeLessThan(30_000);

      const all = (await listSyncRuns(database.db, FEDERAL_REGISTER_SYNC, 100)).reverse();
      const done = all.filter((row) => row.state === 'succeeded');
      expect(all.every((row) => row.attempts === 1)).toBe(true);
      expect(all.filter((row) => row.state !== 'succeeded').length).toBeLessThanOrEqual(1);
      expect(done[0]).toMatchObject({ created: 3, linked: 6, failedDocuments: 0 });
      for (const row of done.slice(1)) expect(row).toMatchObject({ created: 0, unchanged: 3 });
      const searches = upstream.log.filter(
        (entry) =>
          entry.path.startsWith('/fr/documents.json') &&
          new URL(entry.path, upstream.url).searchParams.get('page') === '1',
      ).length;
      expect(searches).toBeGreaterThanOrEqual(done.length);
      expect(searches).toBeLessThanOrEqual(all.length);
      // The pooler saw the traffic (its log lists the client logins through it).
      expect(bouncer?.log()).toMatch(/login attempt: db=/);
    }, 180_000);
  },
);
