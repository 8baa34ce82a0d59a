/**
 * The store itself: history and timestamps written by triggers for every writer, event order
 * equal to commit order, an idempotent seed, and the migrate/seed command line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { openDatabase, queryRows } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { readDataset, seed } from '../src/db/seed.js';
import { EventHub } from '../src/pubsub/hub.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { appOn, executeOn } from './helpers/gateway.js';
import { spawnLockHolder } from './helpers/server.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
});

const rows = <T>(query: ReturnType<typeof sql>) => queryRows<T>(database.db, query);

describe('status history trigger', () => {
  it('records the first status of a decision inserted by plain SQL, at now() and without a note', async () => {
    await database.db.execute(sql`
      insert into policy_decisions (slug, title, jurisdiction, destinations, authority, kind, status, announced_on, confidence)
      values ('sql-writer-decision', 'Written with psql', 'US', '{CN}', 'BIS', 'EXPORT_RULE', 'PROPOSED', '2026-03-01', 'RECALLED')`);
    const history = await rows<{
      from_status: string | null;
      to_status: string;
      note: string | null;
      recent: boolean;
    }>(sql`
      select from_status, to_status, note, occurred_at > now() - interval '1 minute' as recent
        from policy_decision_updates u join policy_decisions d on d.id = u.decision_id
       where d.slug = 'sql-writer-decision'`);
    expect(history).toEqual([
      { from_status: null, to_status: 'PROPOSED', note: null, recent: true },
    ]);
  });

  it('records a status change with the when and why a writer passes in transaction-local settings', async () => {
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('chipgate.occurred_at', '2026-03-05T12:00:00Z', true),
                                  set_config('chipgate.note', 'Final rule published', true)`);
      await tx.execute(
        sql`update policy_decisions set status = 'IN_EFFECT' where slug = 'sql-writer-decision'`,
      );
    });
    // The settings were transaction-local: a later plain update gets now() and no note.
    await database.db.execute(
      sql`update policy_decisions set status = 'SUSPENDED' where slug = 'sql-writer-decision'`,
    );
    const history = await rows<{
      from_status: string | null;
      to_status: string;
      note: string | null;
      occurred_at: string;
    }>(sql`
      select from_status, to_status, note, to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') as occurred_at
        from policy_decision_updates u join policy_decisions d on d.id = u.decision_id
       where d.slug = 'sql-writer-decision' order by u.id`);
    expect(history.map((h) => [h.from_status, h.to_status, h.note])).toEqual([
      [null, 'PROPOSED', null],
      ['PROPOSED', 'IN_EFFECT', 'Final rule published'],
      ['IN_EFFECT', 'SUSPENDED', null],
    ]);
    expect(history[1]?.occurred_at).toBe('2026-03-05 12:00');
  });

  it('writes no history for updates that leave the status alone, but bumps updated_at', async () => {
    const [before] = await rows<{ n: number; updated_at: string }>(sql`
      select (select count(*)::int from policy_decision_updates u where u.decision_id = d.id) as n, updated_at::text
        from policy_decisions d where slug = 'sql-writer-decision'`);
    await database.db.execute(
      sql`update policy_decisions set title = 'Renamed', status = status where slug = 'sql-writer-decision'`,
    );
    const [after] = await rows<{ n: number; updated_at: string }>(sql`
      select (select count(*)::int from policy_decision_updates u where u.decision_id = d.id) as n, updated_at::text
        from policy_decisions d where slug = 'sql-writer-decision'`);
    expect(after?.n).toBe(before?.n);
    expect(after?.updated_at).not.toBe(before?.updated_at);
  });
});

describe('seed', () => {
  it('loaded every row of the dataset, with each decision history exactly as given', async () => {
    const dataset = readDataset();
    const [counts] = await rows<Record<string, number>>(sql`
      select (select count(*)::int from companies where slug not like 'sql-%') as companies,
             (select count(*)::int from chips) as chips,
             (select count(*)::int from policy_decisions where slug <> 'sql-writer-decision') as decisions,
             (select count(*)::int from demand_signals) as signals,
             (select count(*)::int from policy_decision_updates u join policy_decisions d on d.id = u.decision_id
               where d.slug <> 'sql-writer-decision') as updates`);
    expect(counts).toEqual({
      companies: dataset.companies.length,
      chips: dataset.chips.length,
      decisions: dataset.policyDecisions.length,
      signals: dataset.demandSignals.length,
      updates: dataset.policyDecisions.reduce((n, d) => n + d.statusHistory.length, 0),
    });
    for (const decision of dataset.policyDecisions) {
      const history = await rows<{
        from_status: string | null;
        to_status: string;
        day: string;
      }>(sql`
        select from_status, to_status, to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD') as day
          from policy_decision_updates u join policy_decisions d on d.id = u.decision_id
         where d.slug = ${decision.id} order by occurred_at, u.id`);
      const upper = (s: string | null) => (s ? s.toUpperCase().replaceAll('-', '_') : null);
      expect(history).toEqual(
        decision.statusHistory.map((h) => ({
          from_status: upper(h.fromStatus),
          to_status: upper(h.toStatus),
          day: h.date,
        })),
      );
    }
  });

  it('is idempotent: a second run inserts nothing and changes nothing', async () => {
    const snapshot = sql`select md5(string_agg(t, '|' order by t)) as digest from (
      select slug || status::text || coalesce(supersedes_id::text, '') as t from policy_decisions
      union all select slug || coalesce(derived_from_id::text, '') from chips
      union all select slug from companies
      union all select slug || coalesce(value_usd::text, '') from demand_signals
      union all select decision_id || to_status::text || occurred_at::text from policy_decision_updates) x`;
    const [before] = await rows<{ digest: string }>(snapshot);
    const result = await seed(database.db);
    expect(result).toEqual({
      companies: 0,
      chips: 0,
      policyDecisions: 0,
      policyDecisionUpdates: 0,
      demandSignals: 0,
    });
    const [after] = await rows<{ digest: string }>(snapshot);
    expect(after?.digest).toBe(before?.digest);
  });
});

describe('event order', () => {
  it('event_seq grows with every history row and signal, in insertion order', async () => {
    const seqs = await rows<{ event_seq: string }>(sql`
      select event_seq::text from (select event_seq, created_at from policy_decision_updates
                                   union all select event_seq, created_at from demand_signals) e order by event_seq`);
    const values = seqs.map((s) => BigInt(s.event_seq));
    expect(new Set(values.map(String)).size).toBe(values.length);
  });

  it.runIf(backend === 'postgres')(
    'a writer that draws its sequence later but commits first still gets the lower event_seq',
    async () => {
      // Two connections: A inserts (taking the event lock) and holds its transaction open;
      // B inserts meanwhile and must wait, so B's event_seq is drawn after A commits.
      const url = database.url as string;
      const a = postgres(url, { max: 1, onnotice: () => {} });
      const b = postgres(url, { max: 1, onnotice: () => {} });
      try {
        let releaseA!: () => void;
        const aMayCommit = new Promise<void>((resolve) => {
          releaseA = resolve;
        });
        let aInserted!: () => void;
        const aHasInserted = new Promise<void>((resolve) => {
          aInserted = resolve;
        });
        const txA = a.begin(async (tx) => {
          await tx`insert into demand_signals (slug, kind, observed_on, confidence) values ('race-a', 'ORDER', '2026-01-01', 'RECALLED')`;
          aInserted();
          await aMayCommit;
        });
        await aHasInserted;
        let bDone = false;
        const txB = b
          .begin(async (tx) => {
            await tx`insert into demand_signals (slug, kind, observed_on, confidence) values ('race-b', 'ORDER', '2026-01-01', 'RECALLED')`;
          })
          .then(() => {
            bDone = true;
          });
        // B is blocked on A's event lock: wait until Postgres reports it waiting.
        for (let i = 0; i < 200; i++) {
          const [w] = await rows<{ n: number }>(sql`select count(*)::int as n from pg_stat_activity
            where wait_event_type = 'Lock' and datname = current_database() and query like '%race-b%'`);
          if ((w?.n ?? 0) > 0) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        expect(bDone).toBe(false);
        releaseA();
        await txA;
        await txB;
        const order = await rows<{ slug: string }>(
          sql`select slug from demand_signals where slug like 'race-%' order by event_seq`,
        );
        expect(order.map((r) => r.slug)).toEqual(['race-a', 'race-b']);
      } finally {
        await a.end();
        await b.end();
      }
    },
  );
});

describe('a database migrated by this process', () => {
  it('filters by an enum array on PGlite right after migrating (array types refreshed)', async () => {
    const handle = await openDatabase({ pgliteDir: 'memory://' });
    let events: EventHub | undefined;
    try {
      await runMigrations(handle);
      await seed(handle.db);
      events = await EventHub.start(handle, { maxQueue: 10 });
      const app = appOn(handle, events);
      const { data, errors } = await executeOn(
        app,
        '{ companies(filter: { role: [BUYER, FOUNDRY] }) { totalCount edges { node { slug } } } }',
      );
      expect(errors).toBeUndefined();
      expect(data.companies.totalCount).toBe(10);
      expect(data.companies.edges.map((e: any) => e.node.slug).sort()).toEqual([
        'alibaba',
        'baidu',
        'bytedance',
        'intel',
        'meta',
        'microsoft',
        'samsung',
        'smic',
        'tencent',
        'tsmc',
      ]);
    } finally {
      await events?.close();
      await handle.close();
    }
  }, 120_000); // A cold PGlite start with migrations: 5 s on a quiet machine, 49 s seen under load.
});

describe('command line', () => {
  it('migrate and seed an empty embedded database, then refuse a directory another process holds', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'chipgate-cli-'));
    const pgliteDir = path.join(dir, 'pgdata');
    const out: string[] = [];
    const err: string[] = [];
    const env = { CHIPGATE_PGLITE_DIR: pgliteDir };
    const cli = (args: string[], source: Record<string, string> = env) =>
      runCli(
        args,
        source,
        (line) => out.push(line),
        (line) => err.push(line),
      );
    try {
      expect(await cli(['migrate'])).toBe(0);
      expect(await cli(['seed'])).toBe(0);
      expect(out.at(-1)).toMatch(/companies \+15, chips \+16, policyDecisions \+25/);
      expect(await cli(['seed'])).toBe(0);
      expect(out.at(-1)).toMatch(/companies \+0, chips \+0, policyDecisions \+0/);
      expect(await cli(['frobnicate'])).toBe(2);
      expect(err.at(-1)).toMatch(/unknown command "frobnicate"/);
      expect(await cli(['seed'], { ...env, CHIPGATE_PORT: 'abc' })).toBe(2);
      expect(err.at(-1)).toMatch(/CHIPGATE_PORT/);

      // Another process holds the directory (as a running gateway would).
      const holder = await spawnLockHolder(path.resolve(pgliteDir));
      try {
        expect(await cli(['seed'])).toBe(1);
        expect(err.at(-1)).toMatch(
          new RegExp(`in use by process ${holder.pid}.*DATABASE_URL`, 's'),
        );
      } finally {
        holder.kill('SIGKILL');
        await new Promise((resolve) => holder.once('exit', resolve));
      }
      // The holder died without releasing: its lock is stale and taken over.
      expect(await cli(['migrate'])).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
