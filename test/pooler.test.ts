/**
 * The gateway behind PgBouncer 1.18 in transaction mode (real processes: a PostgreSQL cluster
 * and a PgBouncer of this test's own, gateway processes on spare ports).
 *
 * - The probe (db/pooler.ts) tells PostgreSQL from the pooler: shared sessions, prepared
 *   statements lost between transactions, `jit` refused as a startup parameter.
 * - Through the pool, every statement runs in UTC, even on a server connection another client
 *   left in another time zone.
 * - A gateway with DATABASE_URL at PgBouncer and CHIPGATE_DATABASE_DIRECT_URL at PostgreSQL:
 *   the story query, every mutation, an SSE subscriber receiving a write made through the pool,
 *   a key's rate limit and its usage; prepared statements off, JIT off.
 * - Without the direct URL, the LISTEN session through the pooler is a logged warning and a
 *   metric; with CHIPGATE_DATABASE_PREPARE=on through it, start-up stops with a message saying
 *   what to set.
 */
import { existsSync } from 'node:fs';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateKey } from '../src/auth.js';
import { insertApiKey } from '../src/db/api-keys.js';
import { openDatabase, postgresOptions } from '../src/db/client.js';
import { acceptsJitParameter, probeSessions } from '../src/db/pooler.js';
import { STORY_QUERY } from '../src/story.js';
import { type PrivateCluster, seedCluster, startPrivateCluster } from './helpers/cluster.js';
import type { TestKey } from './helpers/keys.js';
import { PGBOUNCER_BIN, startPgBouncer, type TestPgBouncer } from './helpers/pgbouncer.js';
import {
  type ChildGateway,
  clearOfMinuteBoundary,
  freePort,
  killChildren,
  postGraphQL,
  spawnGateway,
  startChildGateway,
} from './helpers/server.js';
import { subscribeSse } from './helpers/subscribers.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

const haveBouncer = existsSync(PGBOUNCER_BIN);
if (!haveBouncer && process.env.CI)
  throw new Error(`${PGBOUNCER_BIN} is missing: apt-get install pgbouncer`);

const UPDATES = /* GraphQL */ `
  subscription { policyDecisionUpdated(filter: { chip: "h200" }) { toStatus note decision { slug } } }
`;

describe.runIf(haveBouncer)('behind PgBouncer in transaction mode', () => {
  let cluster: PrivateCluster;
  let bouncer: TestPgBouncer;
  let writer: TestKey;
  let pooledUrl: string;
  /** Another database behind the same PgBouncer: its own pool, so the gateway's starts empty. */
  let otherPooledUrl: string;
  let admin: postgres.Sql;

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    writer = await seedCluster(cluster, ['read', 'write']);
    bouncer = await startPgBouncer(Number(new URL(cluster.url).port));
    pooledUrl = bouncer.urlFor(cluster.url);
    admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
    await admin.unsafe('create database other');
    const other = new URL(cluster.url);
    other.pathname = '/other';
    otherPooledUrl = bouncer.urlFor(other.toString());
  });
  afterAll(async () => {
    await killChildren();
    await admin?.end();
    await bouncer?.stop();
    await cluster?.destroy();
  });

  it('the probe: PostgreSQL keeps sessions and statements; the pooler shares sessions, drops prepared statements and refuses jit', async () => {
    expect(await acceptsJitParameter(cluster.url)).toBe(true);
    expect(await probeSessions(cluster.url)).toEqual({
      sharesSessions: false,
      keepsPreparedStatements: true,
    });
    expect(await acceptsJitParameter(otherPooledUrl)).toBe(false);
    expect(await probeSessions(otherPooledUrl)).toEqual({
      sharesSessions: true,
      keepsPreparedStatements: false,
    });
  });

  it('every statement through the pool runs in UTC, also on a server connection another client left in Asia/Tokyo', async () => {
    const tokyo = postgres(otherPooledUrl, {
      max: 1,
      fetch_types: false,
      connection: { TimeZone: 'Asia/Tokyo' },
    });
    const ours = postgres(
      otherPooledUrl,
      postgresOptions(1, { prepare: false, jitParameter: false }),
    );
    try {
      const [before] = await tokyo<{ zone: string; pid: number }[]>`
        select current_setting('TimeZone') as zone, pg_backend_pid() as pid`;
      expect(before?.zone).toBe('Asia/Tokyo');
      const [row] = await ours<{ zone: string; day: string; pid: number }[]>`
        select current_setting('TimeZone') as zone, pg_backend_pid() as pid,
               ('2026-01-01T23:30:00Z'::timestamptz)::date::text as day`;
      // The same server session (PgBouncer reuses the last released one), set back to UTC.
      expect(row?.pid).toBe(before?.pid);
      expect(row?.zone).toBe('UTC');
      expect(row?.day).toBe('2026-01-01');
    } finally {
      await Promise.all([tokyo.end(), ours.end()]);
    }
  });

  describe('a gateway with DATABASE_URL at PgBouncer and CHIPGATE_DATABASE_DIRECT_URL at PostgreSQL', () => {
    let gateway: ChildGateway;
    let metricsPort: number;
    let limited: TestKey;

    beforeAll(async () => {
      const handle = await openDatabase({ databaseUrl: cluster.url, poolMax: 1 });
      try {
        const generated = generateKey();
        const id = await insertApiKey(handle.db, {
          name: 'limited',
          prefix: generated.prefix,
          keyHash: generated.keyHash,
          scopes: ['read'],
          rateLimit: 3,
        });
        limited = { id, key: generated.key, headers: { authorization: `Bearer ${generated.key}` } };
      } finally {
        await handle.close();
      }
      metricsPort = await freePort();
      gateway = await startChildGateway({
        DATABASE_URL: pooledUrl,
        CHIPGATE_DATABASE_DIRECT_URL: cluster.url,
        CHIPGATE_METRICS_PORT: String(metricsPort),
        CHIPGATE_USAGE_FLUSH_S: '1',
      });
    });
    afterAll(async () => {
      await gateway?.stop();
    });

    it('starts with prepared statements off, JIT off by the role default, no warning', async () => {
      const line = gateway.logs.find((entry) => entry.msg === 'database pool');
      expect(line).toMatchObject({ prepared: false, pooled: true, jit: 'default' });
      const warnings = gateway.logs.filter((entry) => (entry.level ?? 0) >= 40);
      expect(warnings.filter((entry) => /pool|LISTEN|jit/i.test(entry.msg ?? ''))).toEqual([]);
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/^chipgate_listen_through_pooler 0$/m);
      expect(metrics).toMatch(/^chipgate_db_prepared_statements 0$/m);
      const [role] = await admin<{ settings: string[] }[]>`
        select s.setconfig as settings from pg_db_role_setting s
        join pg_database d on d.oid = s.setdatabase where d.datname = current_database()`;
      expect(role?.settings).toEqual(['jit=off']);
      // The pooler's server sessions for the gateway's database were all opened after the
      // default was set (the one the gateway set it on was ended): JIT off.
      const fresh = postgres(
        pooledUrl,
        postgresOptions(1, { prepare: false, jitParameter: false }),
      );
      try {
        expect(await fresh`select current_setting('jit') as jit`).toEqual([{ jit: 'off' }]);
      } finally {
        await fresh.end();
      }
      // Sessions: the LISTEN connection is direct (PgBouncer's server sessions are `chipgate`).
      const sessions = await admin<{ application: string }[]>`
        select application_name as application from pg_stat_activity
        where datname = current_database() and application_name = 'chipgate-listen'`;
      expect(sessions).toHaveLength(1);
    });

    it('answers the story query as a direct gateway does', async () => {
      const pooled = await postGraphQL(gateway.url, STORY_QUERY);
      expect(pooled.status).toBe(200);
      expect(pooled.body.errors).toBeUndefined();
      const chip = pooled.body.data.chip;
      expect(chip.name).toBe('NVIDIA H200 (SXM)');
      expect(chip.designer.name).toMatch(/NVIDIA/i);
      expect(chip.policyDecisions.totalCount).toBeGreaterThan(3);
      expect(chip.policyDecisions.edges).toHaveLength(chip.policyDecisions.totalCount);
      const direct = await startChildGateway({ DATABASE_URL: cluster.url });
      try {
        const reference = await postGraphQL(direct.url, STORY_QUERY);
        expect(reference.body.errors).toBeUndefined();
        expect(pooled.body.data).toEqual(reference.body.data);
        // The direct gateway kept prepared statements (the default where they survive).
        expect(direct.logs.find((entry) => entry.msg === 'database pool')).toMatchObject({
          prepared: true,
          pooled: false,
          jit: 'parameter',
        });
      } finally {
        await direct.stop();
      }
    });

    it('every mutation, and an SSE subscriber receives the status change made through the pool', async () => {
      const subscriber = await subscribeSse(gateway.url, UPDATES);
      expect(subscriber.status).toBe(200);
      try {
        const mutate = async (query: string, input: Record<string, unknown>) => {
          const { status, body } = await postGraphQL(gateway.url, query, { input }, writer.headers);
          expect(status).toBe(200);
          expect(body.errors).toBeUndefined();
          return Object.values(body.data)[0] as Record<string, any>;
        };
        const company = await mutate(
          `mutation ($input: UpsertCompanyInput!) { upsertCompany(input: $input) { __typename ... on UpsertCompanySuccess { created company { slug name } } } }`,
          {
            slug: 'pooler-co',
            name: 'Pooler Co',
            country: 'US',
            roles: ['DESIGNER'],
            confidence: 'VERIFIED',
          },
        );
        expect(company).toEqual({
          __typename: 'UpsertCompanySuccess',
          created: true,
          company: { slug: 'pooler-co', name: 'Pooler Co' },
        });
        const chip = await mutate(
          `mutation ($input: UpsertChipInput!) { upsertChip(input: $input) { __typename ... on UpsertChipSuccess { created chip { slug designer { slug } } } } }`,
          { slug: 'pooler-x1', name: 'Pooler X1', designer: 'pooler-co', confidence: 'VERIFIED' },
        );
        expect(chip).toEqual({
          __typename: 'UpsertChipSuccess',
          created: true,
          chip: { slug: 'pooler-x1', designer: { slug: 'pooler-co' } },
        });
        const created = await mutate(
          `mutation ($input: CreatePolicyDecisionInput!) { createPolicyDecision(input: $input) { __typename ... on CreatePolicyDecisionSuccess { decision { slug status chips { chip { slug } effect } } } } }`,
          {
            slug: 'pooler-decision',
            title: 'Pooler decision',
            jurisdiction: 'US',
            destinations: ['CN'],
            authority: 'BIS',
            kind: 'LICENSE',
            status: 'PROPOSED',
            announcedOn: '2026-03-01',
            chips: [{ chip: 'h200', effect: 'RESTRICTED' }],
            idempotencyKey: 'pooler-create-1',
          },
        );
        expect(created).toEqual({
          __typename: 'CreatePolicyDecisionSuccess',
          decision: {
            slug: 'pooler-decision',
            status: 'PROPOSED',
            chips: [{ chip: { slug: 'h200' }, effect: 'RESTRICTED' }],
          },
        });
        const updated = await mutate(
          `mutation ($input: UpdatePolicyDecisionStatusInput!) { updatePolicyDecisionStatus(input: $input) { __typename ... on UpdatePolicyDecisionStatusSuccess { decision { status } update { toStatus note } } } }`,
          {
            slug: 'pooler-decision',
            status: 'IN_EFFECT',
            occurredAt: '2026-03-02T00:00:00Z',
            note: 'through the pool',
          },
        );
        expect(updated).toEqual({
          __typename: 'UpdatePolicyDecisionStatusSuccess',
          decision: { status: 'IN_EFFECT' },
          update: { toStatus: 'IN_EFFECT', note: 'through the pool' },
        });
        const signal = await mutate(
          `mutation ($input: RecordDemandSignalInput!) { recordDemandSignal(input: $input) { __typename ... on RecordDemandSignalSuccess { demandSignal { slug chip { slug } } } } }`,
          {
            slug: 'pooler-signal',
            kind: 'ORDER',
            observedOn: '2026-03-03',
            chip: 'pooler-x1',
            companies: ['pooler-co'],
            summary: 'An order recorded through the pool',
            sourceUrl: 'https://example.com/pooler',
            confidence: 'VERIFIED',
          },
        );
        expect(signal).toEqual({
          __typename: 'RecordDemandSignalSuccess',
          demandSignal: { slug: 'pooler-signal', chip: { slug: 'pooler-x1' } },
        });
        // Created (PROPOSED) then changed (IN_EFFECT): both status events reach the subscriber.
        const events = await subscriber.waitForResults(2, 30_000);
        expect(events.map((event) => event.data?.policyDecisionUpdated)).toEqual([
          { toStatus: 'PROPOSED', note: null, decision: { slug: 'pooler-decision' } },
          {
            toStatus: 'IN_EFFECT',
            note: 'through the pool',
            decision: { slug: 'pooler-decision' },
          },
        ]);
        const stored = await admin`
          select (select count(*)::int from companies where slug = 'pooler-co') as companies,
                 (select count(*)::int from chips where slug = 'pooler-x1') as chips,
                 (select status from policy_decisions where slug = 'pooler-decision') as status,
                 (select count(*)::int from demand_signals where slug = 'pooler-signal') as signals`;
        expect(stored).toEqual([{ companies: 1, chips: 1, status: 'IN_EFFECT', signals: 1 }]);
      } finally {
        await subscriber.close();
      }
    });

    it("a key's rate limit holds and its usage is stored", async () => {
      await clearOfMinuteBoundary(20_000);
      const query = '{ chip(slug: "h200") { name } }';
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        statuses.push((await postGraphQL(gateway.url, query, undefined, limited.headers)).status);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      // Usage is flushed every second (CHIPGATE_USAGE_FLUSH_S=1) through the pool.
      const deadline = Date.now() + 30_000;
      let usage: { requests: number }[] = [];
      while (Date.now() < deadline) {
        usage = await admin<{ requests: number }[]>`
          select sum(requests)::int as requests from api_key_usage where api_key_id = ${limited.id}`;
        if ((usage[0]?.requests ?? 0) >= 3) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(usage[0]?.requests).toBeGreaterThanOrEqual(3);
      expect(usage[0]?.requests).toBeLessThanOrEqual(4);
    });
  });

  it('without CHIPGATE_DATABASE_DIRECT_URL: a warning at start and chipgate_listen_through_pooler 1', async () => {
    const metricsPort = await freePort();
    const gateway = await startChildGateway({
      DATABASE_URL: pooledUrl,
      CHIPGATE_DATABASE_PREPARE: 'off',
      CHIPGATE_METRICS_PORT: String(metricsPort),
    });
    try {
      const warning = gateway.logs.find((entry) => /LISTEN/.test(entry.msg ?? ''));
      expect(warning?.level).toBe(40);
      expect(warning?.msg).toMatch(/LISTEN session goes through a connection pooler/);
      expect(warning?.msg).toContain('CHIPGATE_DATABASE_DIRECT_URL');
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/^chipgate_listen_through_pooler 1$/m);
    } finally {
      await gateway.stop();
    }
  });

  it('CHIPGATE_DATABASE_PREPARE=on through the pooler: start-up stops with exit code 2 saying what to set', async () => {
    const gateway = spawnGateway({
      DATABASE_URL: pooledUrl,
      CHIPGATE_DATABASE_DIRECT_URL: cluster.url,
      CHIPGATE_DATABASE_PREPARE: 'on',
      CHIPGATE_PORT: String(await freePort()),
    });
    const status = await gateway.waitForExit(60_000);
    expect(status).toEqual({ code: 2, signal: null });
    expect(gateway.stderr()).toMatch(/^chipgate: CHIPGATE_DATABASE_PREPARE=on, but/);
    expect(gateway.stderr()).toContain('Set CHIPGATE_DATABASE_PREPARE=off');
    expect(gateway.stderr()).not.toMatch(/\n\s+at /);
    expect(gateway.logs.map((entry) => entry.msg)).not.toContain('chipgate listening');
  });
});
