/**
 * A subscription's replay (`after:`) is bounded and paid for: at most REPLAY_MAX events are
 * replayed, a cursor further behind is refused when it subscribes (BAD_USER_INPUT, nothing
 * registered, nothing skipped), and a subscription with `after:` is charged its selection
 * 1 + REPLAY_MAX times against the per-operation and per-minute cost limits. Over SSE and
 * graphql-ws, on the run's backend.
 */
import { sql } from 'drizzle-orm';
import { type GraphQLError, getOperationAST, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeEventCursor } from '../src/codecs.js';
import { REPLAY_MAX } from '../src/cost.js';
import { queryRows } from '../src/db/client.js';
import { loadEventsAfter } from '../src/db/events.js';
import { operationComplexity } from '../src/operation-limits.js';
import { Subscriber, type SubscriberItem } from '../src/pubsub/subscriber.js';
import { eventOf } from '../src/pubsub/topics.js';
import { schema } from '../src/schema/index.js';
import { type InProcessGateway, startInProcessGateway } from './helpers/server.js';
import { subscribeSse, subscribeWs, wsClient } from './helpers/subscribers.js';
import { insertSignal, maxEventSeq } from './helpers/writes.js';

/**
 * The hostile retest's document with pages of 50: every event answers a chip's 50 decisions and
 * their summaries (359 per event at 20, so 36,260 with `after:`, is admitted and charged; at 50
 * it is over the per-operation limit with `after:`).
 */
const HEAVY = /* GraphQL */ `
  subscription($a: String) { demandSignalRecorded(after: $a) { slug summary chip { name
    policyDecisions(first: 50) { edges { node { summary } } } } } }
`;
const LEAN = /* GraphQL */ `
  subscription($a: String) { demandSignalRecorded(after: $a) { slug eventCursor } }
`;

const costOf = (query: string, variables: Record<string, unknown>) => {
  const document = parse(query);
  expect(getOperationAST(document)).toBeTruthy();
  return operationComplexity({ schema, document, variableValues: variables })?.complexity;
};

let gateway: InProcessGateway;
const db = () => gateway.running.db.db;

beforeAll(async () => {
  // Anonymous budget: a few lean resumes a minute (see the per-minute test).
  gateway = await startInProcessGateway({
    CHIPGATE_ANON_COST_LIMIT: '1000',
    // Each test is its own caller (X-Forwarded-For), with its own minute.
    CHIPGATE_TRUST_PROXY: '1',
  });
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
});

describe('replay bound', () => {
  it('refuses a cursor more than REPLAY_MAX events behind, on both transports, and replays one exactly REPLAY_MAX behind', async () => {
    const start = await maxEventSeq(db(), 'demand_signals');
    const base = Math.max(start, await maxEventSeq(db(), 'policy_decision_updates'));
    for (let i = 0; i <= REPLAY_MAX; i++)
      await insertSignal(db(), `ds-replay-${i}`, null, ['alibaba']);
    const tooFar = encodeEventCursor(base);
    const caller = { 'x-forwarded-for': '192.0.2.1' };

    const sse = await subscribeSse(gateway.url, LEAN, { a: tooFar }, caller);
    const [refused] = await sse.waitForResults(1);
    expect(refused?.data ?? null).toBeNull();
    expect(refused?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused?.errors?.[0]?.message).toMatch(
      new RegExp(`more than ${REPLAY_MAX} events behind.*Read what you missed with the lists`),
    );
    await sse.waitForComplete();

    const ws = wsClient(gateway.url);
    const onWs = subscribeWs(ws, LEAN, { a: encodeEventCursor(0) });
    const [wsRefused] = await onWs.waitForResults(1);
    expect(wsRefused?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    await onWs.waitForComplete();
    await ws.dispose();
    expect(gateway.running.events.stats().subscribers).toBe(0);

    // One event later, exactly REPLAY_MAX are behind: all replayed, in order, then live.
    const [first] = await queryRows<{ seq: string }>(
      db(),
      sql`select event_seq as seq from demand_signals where slug = 'ds-replay-0'`,
    );
    const fromFirst = await subscribeSse(gateway.url, LEAN, {
      a: encodeEventCursor(Number(first?.seq)),
    });
    const replayed = await fromFirst.waitForResults(REPLAY_MAX, 30_000);
    expect(replayed.map((r) => r.data?.demandSignalRecorded.slug)).toEqual(
      Array.from({ length: REPLAY_MAX }, (_, i) => `ds-replay-${i + 1}`),
    );
    await insertSignal(db(), 'ds-replay-live', null, ['alibaba']);
    const all = await fromFirst.waitForResults(REPLAY_MAX + 1, 30_000);
    expect(all.at(-1)?.data?.demandSignalRecorded.slug).toBe('ds-replay-live');
    expect(all.every((r) => r.errors === undefined)).toBe(true);
    await fromFirst.close();
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(0));
  }, 120_000);
});

describe('replay limit inside the stream', () => {
  it('stops at the hub mark, and ends with resumeAfter rather than replay past its limit', async () => {
    const after = Math.max(
      await maxEventSeq(db(), 'demand_signals'),
      await maxEventSeq(db(), 'policy_decision_updates'),
    );
    for (let i = 0; i < 5; i++) await insertSignal(db(), `ds-limit-${i}`, null, ['alibaba']);
    const stored = await loadEventsAfter(db(), after, 10);
    expect(stored).toHaveLength(5);
    const subscriberOf = (options: { replayMax: number; replayUntil: number }) =>
      new Subscriber({
        matches: () => true,
        afterSeq: after,
        maxQueue: 10,
        replayPageSize: 2,
        loadReplayPage: (from, limit) => loadEventsAfter(db(), from, limit),
        onEnd() {},
        ...options,
      });
    const take = async (subscriber: Subscriber, count: number) => {
      const items: (SubscriberItem | 'done')[] = [];
      for (let i = 0; i < count; i++) {
        const next = await subscriber.next();
        items.push(next.done ? 'done' : next.value);
      }
      return items;
    };
    // More were committed than the subscription may replay: 3 events, then the notice.
    const limited = await take(
      subscriberOf({ replayMax: 3, replayUntil: Number.MAX_SAFE_INTEGER }),
      5,
    );
    expect(limited).toEqual([
      ...stored.slice(0, 3),
      { replayLimit: true, resumeAfter: stored[2]?.seq },
      'done',
    ]);
    const notice = limited[3] as SubscriberItem;
    expect(() => eventOf(notice)).toThrow(/more than 100 events came after/);
    try {
      eventOf(notice);
    } catch (error) {
      expect((error as GraphQLError).extensions).toEqual({
        code: 'BAD_USER_INPUT',
        resumeAfter: encodeEventCursor(stored[2]?.seq ?? 0),
      });
    }
    // Up to the hub's mark only: what came later reaches the subscriber live (the hub offers it).
    const marked = subscriberOf({ replayMax: 3, replayUntil: stored[1]?.seq ?? 0 });
    const replayed = await take(marked, 2);
    const live = stored[4];
    if (!live) throw new Error('no fifth event');
    marked.offer(live);
    expect([...replayed, ...(await take(marked, 1))]).toEqual([...stored.slice(0, 2), live]);
    await marked.return();
  });
});

describe('replay charge', () => {
  it('charges a subscription with after: its selection 1 + REPLAY_MAX times', () => {
    const live = costOf(HEAVY, {}) ?? 0;
    const resumed = costOf(HEAVY, { a: encodeEventCursor(0) }) ?? 0;
    // The field costs 1, its selection (live - 1) once per event it may send.
    expect(resumed).toBe(1 + (live - 1) * (1 + REPLAY_MAX));
    expect(costOf(LEAN, { a: encodeEventCursor(0) })).toBe(1 + 2 * (1 + REPLAY_MAX));
  });

  it('refuses a heavy selection from Event:0 by the per-operation limit before any replay', async () => {
    const sse = await subscribeSse(
      gateway.url,
      HEAVY,
      { a: encodeEventCursor(0) },
      { 'x-forwarded-for': '192.0.2.2' },
    );
    const [refused] = await sse.waitForResults(1);
    expect(refused?.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(refused?.errors?.[0]?.message).toMatch(
      new RegExp(`^Query is too expensive: cost ${costOf(HEAVY, { a: 'x' })}, the limit is 50000`),
    );
    expect(sse.results).toHaveLength(1);
    await sse.waitForComplete();
  });

  it('counts the replay charge against the per-minute cost budget', async () => {
    const each = costOf(LEAN, { a: encodeEventCursor(1) }) ?? 0;
    const admitted = Math.floor(1000 / each);
    expect(admitted).toBeGreaterThan(0);
    const after = encodeEventCursor(await maxEventSeq(db(), 'demand_signals'));
    const headers = { 'x-forwarded-for': '192.0.2.3' };
    const before = gateway.running.events.stats().subscribers;
    const open = [];
    for (let i = 0; i < admitted; i++) {
      const subscription = await subscribeSse(gateway.url, LEAN, { a: after }, headers);
      expect(subscription.status).toBe(200);
      open.push(subscription);
    }
    await vi.waitFor(() =>
      expect(gateway.running.events.stats().subscribers).toBe(before + admitted),
    );
    const over = await subscribeSse(gateway.url, LEAN, { a: after }, headers);
    const [refused] = await over.waitForResults(1);
    expect(refused?.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      rateLimit: { limit: 1000, remaining: 1000 - admitted * each, reason: 'COST' },
    });
    for (const subscription of open) await subscription.close();
  });
});
