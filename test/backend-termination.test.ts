/**
 * PostgreSQL backends terminated again and again (`pg_terminate_backend`, as an operator, a
 * failover or a pooler's reaper does) under the gateway (server runs only: PGlite has no
 * backends to terminate).
 *
 * - The LISTEN session: every termination replaces it, and the replaced client is ended, so
 *   the listener backends of a gateway stay at one however many times it reconnected.
 * - Two gateway processes under read, write and subscription traffic while every backend of
 *   their database is terminated every 0-60 ms: both stay up (a new connection terminated
 *   during postgres.js' type fetch used to be an unhandled rejection that ended both), answer
 *   afterwards, and their subscribers get the next event.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startListener } from '../src/pubsub/listener.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createKey, type TestKey } from './helpers/keys.js';
import { RECORD_SIGNAL } from './helpers/queries.js';
import {
  type ChildGateway,
  killChildren,
  postGraphQL,
  startChildGateway,
} from './helpers/server.js';
import { subscribeSse, type TestSubscription } from './helpers/subscribers.js';

/** The demand-signal feed with each event's cursor, so a client can resume where it was. */
const FOLLOW = /* GraphQL */ `
  subscription Follow($after: String) {
    demandSignalRecorded(after: $after) { slug eventCursor }
  }
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An admin session on `url`'s database that terminates the backends of that database. */
function terminator(url: string) {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  return {
    /** Terminates every other backend of this database whose application is `application`. */
    async terminate(application?: string): Promise<number> {
      // The pids first, then terminated by pid: a server other tests share never sees a
      // pg_terminate_backend evaluated before its row was filtered to this database.
      const rows = await admin<{ pid: number; application: string }[]>`
        select pid, application_name as application from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()`;
      const pids = rows
        .filter((row) => application === undefined || row.application === application)
        .map((row) => row.pid);
      if (pids.length === 0) return 0;
      const done = await admin<{ done: boolean }[]>`
        select pg_terminate_backend(pid) as done from unnest(${pids}::int[]) as pid`;
      return done.filter((row) => row.done).length;
    },
    /** Backends of this database per application name (this session left out). */
    async backends(): Promise<Record<string, number>> {
      const rows = await admin<{ application: string; count: number }[]>`
        select application_name as application, count(*)::int as count from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() group by 1`;
      return Object.fromEntries(rows.map((row) => [row.application, row.count]));
    },
    end: () => admin.end({ timeout: 1 }),
  };
}

describe.runIf(backend === 'postgres')('PostgreSQL backends terminated repeatedly', () => {
  let database: TestDatabase;
  let admin: ReturnType<typeof terminator>;
  beforeAll(async () => {
    database = await createTestDatabase();
    admin = terminator(database.url ?? '');
  }, 60_000);
  afterAll(async () => {
    await killChildren();
    await admin?.end();
    await database?.close();
  });

  it('the LISTEN session: each replacement ends the client it replaces (one listener backend after 30 terminations)', async () => {
    const disconnects: unknown[] = [];
    const listener = await startListener(database, {
      onNotify: () => {},
      onConnect: () => {},
      onDisconnect: (error) => disconnects.push(error),
    });
    try {
      for (let round = 0; round < 30; round += 1) {
        // Half the rounds wait for the new session, half terminate it wherever it is (an
        // attempt that is still connecting, or none at all).
        if (round % 2 === 0) await vi.waitFor(() => expect(listener.connected).toBe(true), 15_000);
        await admin.terminate('chipgate-listen');
        await sleep(Math.random() * 60);
      }
      await vi.waitFor(() => expect(listener.connected).toBe(true), 15_000);
      await vi.waitFor(async () => {
        expect((await admin.backends())['chipgate-listen']).toBe(1);
      }, 15_000);
      expect(listener.connections).toBeGreaterThanOrEqual(10);
      expect(disconnects.length).toBeGreaterThanOrEqual(10);
    } finally {
      await listener.close();
    }
    await vi.waitFor(async () => {
      expect((await admin.backends())['chipgate-listen']).toBeUndefined();
    }, 15_000);
  }, 120_000);

  describe('two gateway processes under traffic', () => {
    let a: ChildGateway;
    let b: ChildGateway;
    let key: TestKey;
    beforeAll(async () => {
      key = await createKey(database.db, ['write']);
      const vars = { DATABASE_URL: database.url ?? '', CHIPGATE_LOG_LEVEL: 'info' };
      [a, b] = await Promise.all([startChildGateway(vars), startChildGateway(vars)]);
    }, 120_000);

    const record = (gateway: ChildGateway, slug: string) =>
      postGraphQL(
        gateway.url,
        RECORD_SIGNAL,
        { input: { slug, companies: ['bytedance'], kind: 'ORDER', observedOn: '2026-02-01' } },
        key.headers,
      );
    const read = (gateway: ChildGateway) =>
      postGraphQL(gateway.url, '{ companies(first: 5) { edges { node { slug roles } } } }');

    /**
     * A subscriber that behaves as clients are told to: when its stream ends with
     * `DATABASE_UNAVAILABLE` (an event whose payload read kept failing past the retry window ends
     * the subscription by design, so that it is not lost), it resubscribes at once with
     * `after: resumeAfter`; a stream that ended without one (the database was away when it
     * subscribed) is retried from the last `eventCursor` it received. Slugs from every stream are
     * collected.
     */
    function follower(url: string) {
      const streams: (TestSubscription & { status: number })[] = [];
      let after: string | undefined;
      let closed = false;
      const current = () => streams.at(-1);
      const loop = (async () => {
        while (!closed) {
          const stream = current();
          if (stream && !stream.completed) {
            await sleep(20);
            continue;
          }
          for (const result of stream?.results ?? []) {
            after =
              (result.data?.demandSignalRecorded?.eventCursor as string | undefined) ??
              (result.errors?.find((error) => error.extensions?.code === 'DATABASE_UNAVAILABLE')
                ?.extensions?.resumeAfter as string | undefined) ??
              after;
          }
          if (stream) await sleep(50);
          try {
            streams.push(await subscribeSse(url, FOLLOW, after ? { after } : {}));
          } catch {
            await sleep(100); // the gateway's socket was busy: try again
          }
        }
      })();
      return {
        get open() {
          const stream = current();
          return stream !== undefined && !stream.completed && stream.status === 200;
        },
        slugs: () =>
          streams.flatMap((stream) =>
            stream.results.map((result) => result.data?.demandSignalRecorded?.slug),
          ),
        errors: () =>
          streams.flatMap((stream) => stream.results.flatMap((result) => result.errors ?? [])),
        streams: () => streams.length,
        async close() {
          closed = true;
          await loop;
          await Promise.all(streams.map((stream) => stream.close()));
        },
      };
    }

    it('both stay up through 20 s of terminations every 0-60 ms, then answer, write and deliver', async () => {
      const subscriber = follower(b.url);
      await vi.waitFor(() => expect(subscriber.open).toBe(true), 10_000);
      const statuses: number[] = [];
      let terminated = 0;
      let stop = false;
      const traffic = async (gateway: ChildGateway, name: string) => {
        for (let i = 0; !stop; i += 1) {
          const answers = await Promise.all([
            read(gateway),
            record(gateway, `ds-storm-${name}-${i}`),
          ]);
          statuses.push(...answers.map((answer) => answer.status));
        }
      };
      const storm = (async () => {
        const until = Date.now() + 20_000;
        while (Date.now() < until) {
          terminated += await admin.terminate();
          await sleep(Math.random() * 60);
        }
        stop = true;
      })();
      await Promise.all([storm, traffic(a, 'a'), traffic(b, 'b')]);

      for (const gateway of [a, b]) {
        expect(gateway.child.exitCode).toBeNull();
        const output = `${gateway.stderr()}\n${gateway.logs.map((line) => line.msg).join('\n')}`;
        expect(output).not.toMatch(/unhandledRejection|uncaughtException|Unhandled/i);
        expect((await fetch(new URL('/health', gateway.origin))).status).toBe(200);
      }
      // Every answer under the storm was an answer: 200, or 503 while the database was away.
      expect(terminated).toBeGreaterThan(20);
      expect(new Set(statuses.filter((status) => status !== 200 && status !== 503))).toEqual(
        new Set(),
      );

      // Afterwards: reads parse arrays, writes succeed, the subscriber on B gets A's write, and
      // each gateway has one LISTEN session.
      await vi.waitFor(
        async () => {
          const answer = await read(a);
          expect(answer.status).toBe(200);
          expect(answer.body.data.companies.edges[0].node.roles).toEqual(expect.any(Array));
        },
        { timeout: 30_000, interval: 200 },
      );
      await vi.waitFor(
        async () => {
          expect((await admin.backends())['chipgate-listen']).toBe(2);
        },
        { timeout: 30_000, interval: 200 },
      );
      await vi.waitFor(() => expect(subscriber.open).toBe(true), 30_000);
      const after = await record(a, 'ds-after-storm');
      expect(after.body.data.recordDemandSignal).toEqual({
        __typename: 'RecordDemandSignalSuccess',
        demandSignal: { slug: 'ds-after-storm' },
      });
      try {
        await vi.waitFor(
          () =>
            expect(
              subscriber.slugs(),
              `${subscriber.streams()} streams; errors: ${JSON.stringify(subscriber.errors())}`,
            ).toContain('ds-after-storm'),
          { timeout: 30_000, interval: 200 },
        );
        // Nothing was skipped by a resubscription: every storm write B's subscriber saw is
        // there once (a resumed stream replays from the event that could not be read).
        const slugs = subscriber.slugs().filter((slug) => typeof slug === 'string');
        expect(
          subscriber.errors().filter((e) => e.extensions?.code !== 'DATABASE_UNAVAILABLE'),
        ).toEqual([]);
        expect(new Set(slugs).size).toBe(slugs.length);
      } finally {
        await subscriber.close();
      }
    }, 120_000);
  });
});
