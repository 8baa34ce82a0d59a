/**
 * A PostgreSQL connection closes under postgres.js while it has work on it (a pooler or a load
 * balancer drops it, the network resets it, the server is restarted): every statement on it
 * settles with a connection error, none hangs, nothing is thrown outside a caller's reach, and
 * the pool answers the next statement. The cuts are made by a TCP proxy in front of a private
 * cluster, so they come at a chosen moment (a statement in flight, or the connection idle),
 * with a FIN or a RST.
 *
 * postgres.js 3.4.9 crashed the process here: a statement sent on a connection whose socket was
 * gone (a transaction's own ROLLBACK, or the next statement on a reserved connection) wrote to
 * a null socket from a `setImmediate`, an uncaught TypeError. `patches/postgres+3.4.9.patch`
 * settles those statements with CONNECTION_CLOSED instead. It also crashed when a new
 * connection died during its array type fetch (57P01 from pg_terminate_backend, or a reset):
 * that query's rejection had no handler; the patch gives its error to the waiting statement.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { postgresOptions } from '../src/db/client.js';
import { type PrivateCluster, seedCluster, startPrivateCluster } from './helpers/cluster.js';
import type { TestKey } from './helpers/keys.js';
import { RECORD_SIGNAL } from './helpers/queries.js';
import {
  type ChildGateway,
  killChildren,
  postGraphQL,
  startChildGateway,
} from './helpers/server.js';
import { type CutMode, startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/** How long a statement may take to settle after its connection is cut (a loaded machine). */
const SETTLE_MS = 15_000;

let cluster: PrivateCluster;
let proxy: TcpProxy;
let key: TestKey;

/** Errors thrown where no caller could catch them (the process would have crashed). */
const uncaught: unknown[] = [];
const recordUncaught = (error: unknown) => uncaught.push(error);

beforeAll(async () => {
  process.on('uncaughtExceptionMonitor', recordUncaught);
  cluster = await startPrivateCluster();
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(cluster.url).port) });
  key = await seedCluster(cluster, ['write']);
}, 180_000);

afterAll(async () => {
  process.off('uncaughtExceptionMonitor', recordUncaught);
  await killChildren();
  await proxy?.close();
  await cluster?.destroy();
});

/** How a statement settled within `SETTLE_MS`: its value, its error's code, or `pending`. */
type Outcome = { fulfilled: unknown } | { rejected: string | undefined } | 'pending';

async function outcome(promise: PromiseLike<unknown>): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve('pending'), SETTLE_MS);
  });
  try {
    return await Promise.race([
      Promise.resolve(promise).then(
        (value) => ({ fulfilled: value }),
        (error: { code?: string }) => ({ rejected: error?.code }),
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The gateway's postgres.js settings with one connection, through the proxy, so the statement
 * after a cut runs on the connection that was cut.
 */
function client(): postgres.Sql {
  return postgres(proxiedUrl(), postgresOptions(1));
}

/** The cluster's URL through the proxy. */
function proxiedUrl(): string {
  const url = new URL(cluster.url);
  url.port = String(proxy.port);
  return url.toString();
}

/** The error a cut statement gets: a clean close or a reset, as the cut was made. */
const CUT_CODES: Record<CutMode, string[]> = {
  fin: ['CONNECTION_CLOSED'],
  rst: ['ECONNRESET', 'CONNECTION_CLOSED'],
};

describe.each<CutMode>(['fin', 'rst'])('a connection cut with a %s', (mode) => {
  it('mid-transaction: the transaction rejects, and the connection answers the next statement', async () => {
    const sql = client();
    try {
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
      const sent = proxy.sawClientSend('pg_sleep(60)');
      const transaction = outcome(sql.begin((tx) => tx`select pg_sleep(60)`));
      await sent;
      proxy.cut(mode);
      const settled = await transaction;
      expect(settled).toEqual({ rejected: expect.any(String) });
      expect(CUT_CODES[mode]).toContain((settled as { rejected: string }).rejected);
      // postgres.js rolls the transaction back on the connection it had: that statement must
      // settle too, and the one connection then reconnects for the next statement.
      expect(await outcome(sql`select 2 as two`)).toEqual({ fulfilled: [{ two: 2 }] });
      expect(uncaught).toEqual([]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('on a reserved connection: the statement in flight and the next one both reject', async () => {
    const sql = client();
    try {
      const reserved = await sql.reserve();
      expect(await reserved`select 1 as one`).toEqual([{ one: 1 }]);
      const sent = proxy.sawClientSend('pg_sleep(60)');
      const inFlight = outcome(reserved`select pg_sleep(60)`);
      await sent;
      proxy.cut(mode);
      const first = await inFlight;
      expect(first).toEqual({ rejected: expect.any(String) });
      expect(CUT_CODES[mode]).toContain((first as { rejected: string }).rejected);
      // Sent at once, as a `finally` would (the migrations' unlock): with a FIN the socket is
      // already gone; with a RST it is destroyed but not yet closed. Never a hang.
      expect(await outcome(reserved`select 2 as two`)).toEqual({ rejected: 'CONNECTION_CLOSED' });
      expect(uncaught).toEqual([]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe('a connection reset while a statement waits to be flushed', () => {
  it('rejects that statement, and the connection reconnects for the next one', async () => {
    const sql = client();
    try {
      // Connected first: the statement after the cut then goes to the connection being cut
      // (a statement that opens a connection holds it as `connecting`, and the next one queues).
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
      const sent = proxy.sawClientSend('pg_sleep(60)');
      const inFlight = outcome(sql`select pg_sleep(60)`);
      await sent;
      proxy.cut('rst');
      expect(await inFlight).toEqual({ rejected: 'ECONNRESET' });
      // A reset is reported at once and the socket closes later in the same turn of the event
      // loop: a statement sent from an immediate in between waits to be flushed when the close
      // comes. postgres.js kept its buffer and its flush timer across the close, so that
      // statement waited forever and the reconnected socket never flushed its startup message
      // (CONNECT_TIMEOUT on every later statement).
      await new Promise((resolve) => setImmediate(resolve));
      const between = outcome(sql`select 2 as two`);
      expect(await between).toEqual({ rejected: 'CONNECTION_CLOSED' });
      expect(await outcome(sql`select 3 as three`)).toEqual({ fulfilled: [{ three: 3 }] });
      expect(uncaught).toEqual([]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe('a backend terminated while a statement runs', () => {
  // Skipped: the patch that settled a closed socket's statement and server error in closed()
  // wedged the pool after a server restart (test/outage.test.ts: every statement timed out for
  // 30 s and more, 2 runs in 6 under load), so it was withdrawn; the next statement may still fail
  // with the dead connection's 57P01 (one needless 503). Open defect, see the issue 13 note.
  it.skip('that statement gets 57P01, and the next statement on the connection is not failed with it', async () => {
    const applicationName = 'chipgate-terminated-mid-statement';
    const sql = postgres(cluster.url, {
      ...postgresOptions(1),
      connection: { application_name: applicationName, TimeZone: 'UTC' },
    });
    const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
    try {
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
      const inFlight = outcome(sql`select pg_sleep(60)`);
      // Terminated once it runs the statement (not while still idle before it).
      await vi.waitFor(async () => {
        const [row] = await admin<{ done: boolean }[]>`
          select pg_terminate_backend(pid) as done from pg_stat_activity
          where application_name = ${applicationName} and query like 'select pg_sleep%'`;
        expect(row?.done).toBe(true);
      });
      expect(await inFlight).toEqual({ rejected: '57P01' });
      // The server's error used to stay behind and fail the first statement of the next
      // connection (a second, needless 503).
      expect(await outcome(sql`select 2 as two`)).toEqual({ fulfilled: [{ two: 2 }] });
      expect(uncaught).toEqual([]);
    } finally {
      await sql.end({ timeout: 1 });
      await admin.end({ timeout: 1 });
    }
  });
});

describe('a new connection lost while it fetches its array types', () => {
  /** Errors no caller handled (an unhandled rejection used to end the gateway process). */
  const unhandled: unknown[] = [];
  const recordUnhandled = (error: unknown) => unhandled.push(error);
  beforeAll(() => {
    process.on('unhandledRejection', recordUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', recordUnhandled);
  });

  // postgres.js sends a type query on every new connection (`fetch_types`, which the gateway
  // needs: it parses `company_role[]` and serialises array parameters) before the statement
  // that opened it. Its promise had no handler: when the connection died during that query, the
  // rejection ended the process (two gateways under pg_terminate_backend, 57P01).
  it.each<'terminated' | 'reset'>(['terminated', 'reset'])(
    'its backend %s: the waiting statement rejects, nothing is unhandled, the next one parses arrays',
    async (how) => {
      const applicationName = `chipgate-types-${how}`;
      const sql = postgres(proxiedUrl(), {
        ...postgresOptions(1),
        connection: { application_name: applicationName, TimeZone: 'UTC' },
      });
      const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
      try {
        const held = proxy.holdClientSend('typcategory');
        const waiting = outcome(sql`select 1 as one`);
        await held;
        if (how === 'terminated') {
          // The backend is idle (its type query is held by the proxy): it sends FATAL 57P01.
          const terminated = await admin`
            select pg_terminate_backend(pid) as done from pg_stat_activity
            where application_name = ${applicationName}`;
          expect(terminated).toEqual([{ done: true }]);
        } else {
          proxy.cut('rst');
        }
        const settled = await waiting;
        // It fails with the connection's error, or (the type fetch failing on its own, the
        // statement still queued) is answered on the reconnected connection: never a hang, never
        // a wrong answer.
        if (typeof settled === 'object' && 'rejected' in settled) {
          expect(['57P01', 'CONNECTION_CLOSED', 'ECONNRESET']).toContain(settled.rejected);
        } else {
          expect(settled).toEqual({ fulfilled: [{ one: 1 }] });
        }
        expect(await outcome(sql`select array[1, 2]::int[] as list`)).toEqual({
          fulfilled: [{ list: [1, 2] }],
        });
        // Let any rejection without a handler surface (Node reports them after microtasks).
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(unhandled).toEqual([]);
        expect(uncaught).toEqual([]);
      } finally {
        await sql.end({ timeout: 1 });
        await admin.end({ timeout: 1 });
      }
    },
  );

  it('its type query fails and the connection lives on: the waiting statement rejects, and the connection is replaced rather than used without array types', async () => {
    const applicationName = 'chipgate-types-lock-timeout';
    const sql = postgres(proxiedUrl(), {
      ...postgresOptions(1),
      // The type query waits on the catalog lock below and fails on its own (55P03), while
      // its session stays open, as after a cancel or a statement_timeout.
      connection: { application_name: applicationName, TimeZone: 'UTC', lock_timeout: 300 },
    });
    const locker = postgres(cluster.url, { max: 1, onnotice: () => {} });
    try {
      const held = proxy.holdClientSend('typcategory');
      const waiting = outcome(sql`select 1 as one`);
      await held;
      const settled = await locker.begin(async (tx) => {
        await tx`lock table pg_catalog.pg_type in access exclusive mode`;
        proxy.releaseHeld();
        return waiting;
      });
      expect(settled).toEqual({ rejected: '55P03' });
      expect(await outcome(sql`select array[1, 2]::int[] as list`)).toEqual({
        fulfilled: [{ list: [1, 2] }],
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      expect(uncaught).toEqual([]);
    } finally {
      await sql.end({ timeout: 1 });
      await locker.end({ timeout: 1 });
    }
  });
});

describe('a gateway process whose database connections are cut', () => {
  let gateway: ChildGateway;

  beforeAll(async () => {
    gateway = await startChildGateway({ DATABASE_URL: proxiedUrl() });
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
  });

  function record(slug: string) {
    return postGraphQL(
      gateway.url,
      RECORD_SIGNAL,
      { input: { slug, companies: ['bytedance'], kind: 'ORDER', observedOn: '2026-02-01' } },
      key.headers,
    );
  }

  it.each<CutMode>(['fin', 'rst'])(
    'mid-mutation with a %s: answers 503, stays up, and records the next write',
    async (mode) => {
      const sent = proxy.sawClientSend('insert into "demand_signals"');
      const cut = record(`ds-cut-${mode}`);
      await sent;
      proxy.cut(mode);
      // The transaction's statement was in flight: the write is refused as the database being
      // unavailable, and postgres.js' ROLLBACK on the dead connection no longer ends the process.
      const refused = await cut;
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('DATABASE_UNAVAILABLE');
      const health = await fetch(new URL('/health', gateway.origin));
      expect(health.status).toBe(200);
      const next = await record(`ds-after-cut-${mode}`);
      expect(next.status).toBe(200);
      expect(next.body.data.recordDemandSignal).toEqual({
        __typename: 'RecordDemandSignalSuccess',
        demandSignal: { slug: `ds-after-cut-${mode}` },
      });
      expect(gateway.child.exitCode).toBeNull();
      expect(gateway.stderr()).toBe('');
    },
  );
});
