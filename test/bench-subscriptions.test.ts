/**
 * The subscription benchmark's own correctness (never its speed): its subscriber processes read
 * the real gateway's SSE and graphql-transport-ws streams right (every note, once, in order, for
 * the right cohort), its delivery check catches a missing, a repeated and a reordered event,
 * the storm's choice of missed events reaches every cohort, and the wire counter of SQL
 * statements counts exactly the frontend messages it is fed (and, on PostgreSQL, exactly the
 * statements postgres.js sends through it).
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FrontendCounter,
  type MessageCounts,
  startCountingProxy,
  statementsIn,
} from '../bench/pg-frontend.js';
import { type BenchEvent, buildCohorts, checkDeliveries } from '../bench/subscription-cohorts.js';
import { clock, SubscriberPool } from '../bench/subscription-harness.js';
import { coverDecisions } from '../bench/subscription-storm.js';
import { backend, createTestDatabase } from './helpers/database.js';
import { type InProcessGateway, startInProcessGateway } from './helpers/server.js';
import { setStatus } from './helpers/writes.js';

const CHIPS = ['h200', 'a100', 'h20'];

describe('the subscriber processes against a real gateway', () => {
  let gateway: InProcessGateway;
  let pool: SubscriberPool;
  beforeAll(async () => {
    gateway = await startInProcessGateway();
    pool = await SubscriberPool.start(2);
  }, 60_000);
  afterAll(async () => {
    pool?.end();
    await gateway?.stop();
  });

  // Each decision names one cohort's chip (us-bis-2022-10-07 names a100 and h100).
  const changes = [
    {
      slug: 'us-whitehouse-2025-12-08-h200-approval',
      chips: ['h200'],
      to: ['SUSPENDED', 'APPROVED'],
    },
    { slug: 'us-bis-2022-10-07', chips: ['a100', 'h100'], to: ['SUSPENDED', 'IN_EFFECT'] },
    { slug: 'cn-2025-08-12-h20-purchase-guidance', chips: ['h20'], to: ['SUSPENDED', 'IN_EFFECT'] },
  ];

  it.each([
    ['sse', 0],
    ['ws', 1],
  ] as const)(
    '%s: six subscribers in two processes get exactly their cohort’s events',
    async (transport, round) => {
      const cohorts = buildCohorts(3, CHIPS);
      await pool.open(gateway.url, transport, cohorts, 6);
      await expect
        .poll(() => gateway.running.events.stats().subscribers, { timeout: 10_000 })
        .toBe(6);
      const events: BenchEvent[] = [];
      for (const [i, change] of changes.entries()) {
        const note = round * 3 + i + 1;
        await setStatus(
          gateway.running.db.db,
          change.slug,
          change.to[round] as string,
          `bench ${note}`,
        );
        const event = { note, chips: new Set(change.chips), committedAt: clock() };
        events.push(event);
        await pool.awaitEvent(event, cohorts, 10_000);
      }
      const report = await pool.report();
      await pool.close();
      // Subscriber i is in process i mod 2 and cohort i mod 3; the logs come process by process.
      expect(report.cohortOf).toEqual([0, 2, 1, 1, 0, 2]);
      const n = round * 3;
      expect(report.logs.map((log) => log.notes)).toEqual([
        [n + 1],
        [n + 3],
        [n + 2],
        [n + 2],
        [n + 1],
        [n + 3],
      ]);
      const check = checkDeliveries(report.logs, report.cohortOf, cohorts, events);
      expect(check.wrong).toBe(0);
      expect(check.deliveries).toBe(6);
      expect(check.latencies).toHaveLength(6);
      expect(check.latencies.every((ms) => ms > -50 && ms < 10_000)).toBe(true);
      await expect
        .poll(() => gateway.running.events.stats().subscribers, { timeout: 10_000 })
        .toBe(0);
    },
  );
});

describe('the delivery check', () => {
  const cohorts = buildCohorts(2, ['h200', 'h20']);
  const event = (note: number, chips: string[]): BenchEvent => ({
    note,
    chips: new Set(chips),
    committedAt: 1000 + note,
  });
  const events = [event(1, ['h200']), event(2, ['h20']), event(3, ['h200', 'h20'])];
  const log = (notes: number[]) => ({ notes, times: notes.map((n) => 1010 + n) });

  it('accepts exactly the cohort’s events in commit order, with their latencies', () => {
    const check = checkDeliveries([log([1, 3]), log([2, 3])], [0, 1], cohorts, events);
    expect(check).toEqual({ deliveries: 4, wrong: 0, samples: [], latencies: [10, 10, 10, 10] });
  });

  it('flags a missing, a repeated and a reordered event', () => {
    const check = checkDeliveries(
      [log([1]), log([3, 2]), log([1, 3, 3]), log([2, 3])],
      [0, 1, 0, 1],
      cohorts,
      events,
    );
    expect(check.wrong).toBe(3);
    expect(check.samples[0]).toBe('subscriber 0 (cohort 0): got [1], want [1,3]');
    expect(check.samples[1]).toBe('subscriber 1 (cohort 1): got [3,2], want [2,3]');
  });

  it('cohorts past the chips take the lean selection; too many are refused', () => {
    const four = buildCohorts(4, ['h200', 'h20']);
    expect(four.map((c) => [c.chip, c.selection])).toEqual([
      ['h200', 'full'],
      ['h20', 'full'],
      ['h200', 'lean'],
      ['h20', 'lean'],
    ]);
    expect(() => buildCohorts(5, ['h200', 'h20'])).toThrow('BENCH_COHORTS: 1-4');
  });

  it('the storm’s missed events reach every cohort, at least two of them', () => {
    const decisions = [
      { slug: 'a', chips: new Set(['h20']) },
      { slug: 'b', chips: new Set(['h200', 'h100', 'a100']) },
      { slug: 'c', chips: new Set(['h100']) },
    ];
    const slugs = (chips: string[]) =>
      coverDecisions(decisions, buildCohorts(chips.length, chips)).map((d) => d.slug);
    expect(slugs(['h200', 'h20', 'a100'])).toEqual(['b', 'a']);
    expect(slugs(['h100'])).toEqual(['b', 'a']);
  });
});

/** One frontend message: type byte, int32 length (itself included), body. */
function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** An untyped startup-phase message: int32 length, int32 code, body. */
function startupMessage(code: number, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeInt32BE(body.length + 8, 0);
  header.writeInt32BE(code, 4);
  return Buffer.concat([header, body]);
}

describe('the statement counter', () => {
  it('counts typed messages after the startup (and an SSL request), whatever the chunking', () => {
    const bytes = Buffer.concat([
      startupMessage(80877103, Buffer.alloc(0)),
      startupMessage(196608, Buffer.from('user\0postgres\0\0')),
      message('Q', Buffer.from('begin\0')),
      message('P', Buffer.from('\0select 1\0\0\0')),
      message('B', Buffer.alloc(10)),
      message('E', Buffer.from('\0\0\0\0\0')),
      message('S', Buffer.alloc(0)),
      message('E', Buffer.from('\0\0\0\0\0')),
      message('Q', Buffer.from('commit\0')),
    ]);
    for (const size of [1, 3, 7, bytes.length]) {
      const counts: MessageCounts = {};
      const counter = new FrontendCounter(counts);
      for (let at = 0; at < bytes.length; at += size) counter.push(bytes.subarray(at, at + size));
      expect(counts).toEqual({ Q: 2, P: 1, B: 1, E: 2, S: 1 });
      expect(statementsIn(counts)).toBe(4);
    }
  });

  it.skipIf(backend !== 'postgres')('counts exactly the statements postgres.js sends', async () => {
    const database = await createTestDatabase();
    const url = new URL(database.url as string);
    const proxy = await startCountingProxy(url.hostname, Number(url.port || 5432));
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
    try {
      await sql`select 1 as warm`;
      const before = statementsIn(proxy.counts);
      for (let i = 0; i < 5; i += 1) {
        const [row] = await sql<{ n: number }[]>`select ${i}::int as n`;
        expect(row?.n).toBe(i);
      }
      expect(statementsIn(proxy.counts) - before).toBe(5);
    } finally {
      await sql.end();
      await proxy.close();
      await database.close();
    }
  });
});
