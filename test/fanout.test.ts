/**
 * Fan-out across instances through PostgreSQL (server runs only; the embedded PGlite belongs
 * to one process): two gateway processes over one database, a LISTEN connection killed while
 * writes go on, and two writers that commit out of row-id order.
 */
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeEventCursor } from '../src/codecs.js';
import { queryRows } from '../src/db/client.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createKey } from './helpers/keys.js';
import { SIGNALS, UPDATES } from './helpers/queries.js';
import {
  type ChildGateway,
  type InProcessGateway,
  killChildren,
  startChildGateway,
  startInProcessGateway,
} from './helpers/server.js';
import { subscribeSse, subscribeWs, wsClient } from './helpers/subscribers.js';
import { maxEventSeq, setStatus } from './helpers/writes.js';

describe.runIf(backend === 'postgres')('two gateway processes over one PostgreSQL', () => {
  let database: TestDatabase;
  let a: ChildGateway;
  let b: ChildGateway;
  beforeAll(async () => {
    database = await createTestDatabase();
    const vars = { DATABASE_URL: database.url ?? '', CHIPGATE_LOG_LEVEL: 'info' };
    [a, b] = await Promise.all([startChildGateway(vars), startChildGateway(vars)]);
  }, 120_000);
  afterAll(async () => {
    await killChildren();
    await database?.close();
  });

  it('a SQL status change and an API mutation on A reach a WebSocket client on A and an SSE client on B exactly once; a non-matching filter gets nothing', async () => {
    const ws = wsClient(a.url);
    const onA = subscribeWs(ws, UPDATES);
    const onB = await subscribeSse(b.url, UPDATES);
    const cnOnB = await subscribeSse(b.url, UPDATES, { filter: { jurisdiction: ['CN'] } });
    // Both are registered once a replay of the latest update (from just before it) arrives.
    const latest = await maxEventSeq(database.db, 'policy_decision_updates');
    const probe = await subscribeSse(b.url, UPDATES, { after: encodeEventCursor(latest - 1) });
    await probe.waitForResults(1);
    await probe.close();
    const probeA = subscribeWs(ws, UPDATES, { after: encodeEventCursor(latest - 1) });
    await probeA.waitForResults(1);
    await probeA.close();

    await setStatus(database.db, 'us-whitehouse-2025-12-08-h200-approval', 'SUSPENDED', 'psql');
    await setStatus(database.db, 'cn-2026-01-24-h200-orders-in-principle', 'IN_EFFECT', 'cn');

    for (const subscription of [onA, onB]) {
      const results = await subscription.waitForResults(2);
      expect(results.map((r) => r.data?.policyDecisionUpdated)).toMatchObject([
        {
          toStatus: 'SUSPENDED',
          note: 'psql',
          decision: { slug: 'us-whitehouse-2025-12-08-h200-approval' },
        },
        {
          toStatus: 'IN_EFFECT',
          note: 'cn',
          decision: { slug: 'cn-2026-01-24-h200-orders-in-principle' },
        },
      ]);
    }
    const [cn] = await cnOnB.waitForResults(1);
    expect(cn?.data?.policyDecisionUpdated.decision.slug).toBe(
      'cn-2026-01-24-h200-orders-in-principle',
    );

    // A mutation through the API on A, with a write key: both receive it, once.
    const key = await createKey(database.db, ['write']);
    const response = await fetch(a.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...key.headers },
      body: JSON.stringify({
        query: /* GraphQL */ `mutation ($input: UpdatePolicyDecisionStatusInput!) {
          updatePolicyDecisionStatus(input: $input) { __typename }
        }`,
        variables: {
          input: {
            slug: 'us-whitehouse-2025-12-08-h200-approval',
            status: 'IN_EFFECT',
            note: 'through the API',
          },
        },
      }),
    });
    expect(await response.json()).toEqual({
      data: { updatePolicyDecisionStatus: { __typename: 'UpdatePolicyDecisionStatusSuccess' } },
    });
    for (const subscription of [onA, onB]) {
      const results = await subscription.waitForResults(3);
      expect(results[2]?.data?.policyDecisionUpdated).toMatchObject({
        toStatus: 'IN_EFFECT',
        note: 'through the API',
        decision: { slug: 'us-whitehouse-2025-12-08-h200-approval' },
      });
    }

    await Promise.all([onA.close(), onB.close(), cnOnB.close()]);
    await ws.dispose();
    expect(onA.results).toHaveLength(3);
    expect(onB.results).toHaveLength(3);
    expect(cnOnB.results).toHaveLength(1);
  });
});

describe.runIf(backend === 'postgres')('the LISTEN connection', () => {
  let gateway: InProcessGateway;
  beforeAll(async () => {
    gateway = await startInProcessGateway();
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
  });

  it('killed with pg_terminate_backend while updates are written: every update arrives exactly once, in order', async () => {
    const db = gateway.running.db.db;
    const events = gateway.running.events;
    const ws = wsClient(gateway.url);
    const watched = subscribeWs(ws, UPDATES, { filter: { chip: 'mi325x' } });
    await vi.waitFor(() => expect(events.stats().subscribers).toBe(1));
    const killedPid = events.stats().listenBackendPid;
    expect(killedPid).toBeTypeOf('number');

    const notes: string[] = [];
    const slug = 'us-whitehouse-2026-01-14-proclamation-11002';
    for (let i = 0; i < 40; i += 1) {
      const status = i % 2 === 0 ? 'SUSPENDED' : 'IN_EFFECT';
      notes.push(`write ${i}`);
      await setStatus(db, slug, status, `write ${i}`);
      if (i === 10) {
        const [row] = await queryRows<{ killed: boolean }>(
          db,
          sql`select pg_terminate_backend(${killedPid}::int) as killed`,
        );
        expect(row?.killed).toBe(true);
      }
    }
    const results = await watched.waitForResults(40, 20_000);
    expect(results.map((r) => r.data?.policyDecisionUpdated.note)).toEqual(notes);
    // A new LISTEN session replaced the killed one.
    expect(events.stats().listenConnections).toBeGreaterThanOrEqual(2);
    expect(events.stats().listenBackendPid).not.toBe(killedPid);
    // Nothing more arrives: one more write is the 41st result, not a repeat.
    await setStatus(db, slug, 'SUSPENDED', 'last');
    const all = await watched.waitForResults(41);
    expect(all.at(-1)?.data?.policyDecisionUpdated.note).toBe('last');
    await watched.close();
    await ws.dispose();
    expect(watched.results).toHaveLength(41);
  }, 60_000);

  it('delivers in commit order when a lower row id commits after a higher one', async () => {
    const url = new URL(gateway.url);
    const events = gateway.running.events;
    const subscription = await subscribeSse(`${url.origin}/graphql`, SIGNALS);
    await vi.waitFor(() => expect(events.stats().subscribers).toBe(1));
    const databaseUrl = (gateway.running.db as { url?: string }).url ?? '';
    const first = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    const second = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      // `first` takes the event lock with a status change, so it commits first whatever ids
      // are drawn. `second` draws the lower demand_signals id, then waits for that lock;
      // `first` then inserts its signal with the higher id and commits.
      let secondTx: Promise<unknown> | undefined;
      await first.begin(async (tx) => {
        await tx`update policy_decisions set status = 'SUSPENDED' where slug = 'us-bis-2022-10-07'`;
        secondTx = second.begin(async (tx2) => {
          await tx2`insert into demand_signals (slug, kind, observed_on, confidence)
                    values ('ds-race-low-id', 'INTEREST', '2026-02-03', 'RECALLED')`;
        });
        await vi.waitFor(async () => {
          const [row] = await tx<{ waiting: number }[]>`
            select count(*)::int as waiting from pg_locks where locktype = 'advisory' and not granted`;
          expect(row?.waiting).toBe(1);
        });
        await tx`insert into demand_signals (slug, kind, observed_on, confidence)
                 values ('ds-race-high-id', 'INTEREST', '2026-02-03', 'RECALLED')`;
      });
      await secondTx;
      const ids = await first<{ slug: string; id: number }[]>`
        select slug, id from demand_signals where slug like 'ds-race-%' order by id`;
      expect(ids.map((row) => row.slug)).toEqual(['ds-race-low-id', 'ds-race-high-id']);
      const results = await subscription.waitForResults(2);
      expect(results.map((r) => r.data?.demandSignalRecorded.slug)).toEqual([
        'ds-race-high-id',
        'ds-race-low-id',
      ]);
    } finally {
      await first.end();
      await second.end();
      await subscription.close();
    }
  }, 60_000);
});
