/**
 * Subscriptions over real sockets: Server-Sent Events (fetch) and graphql-transport-ws
 * (graphql-ws' client), against a gateway started in this process on 127.0.0.1, on the run's
 * backend (PGlite: writes made in the same process; PostgreSQL: NOTIFY through the server).
 * Writes are plain SQL here, so they prove that any writer reaches subscribers.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeEventCursor } from '../src/codecs.js';
import { queryRows } from '../src/db/client.js';
import { createKey } from './helpers/keys.js';
import { SIGNALS, UPDATES } from './helpers/queries.js';
import { type InProcessGateway, startInProcessGateway } from './helpers/server.js';
import { subscribeSse, subscribeWs, wsClient } from './helpers/subscribers.js';
import {
  maxEventSeq,
  insertSignal as writeSignal,
  setStatus as writeStatus,
} from './helpers/writes.js';

let gateway: InProcessGateway;
beforeAll(async () => {
  gateway = await startInProcessGateway();
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
});

const db = () => gateway.running.db.db;

const setStatus = (slug: string, status: string, note: string) =>
  writeStatus(db(), slug, status, note);
const insertSignal = (slug: string, chip: string | null, companies: string[]) =>
  writeSignal(db(), slug, chip, companies);

describe('policyDecisionUpdated', () => {
  it('delivers a SQL status change to an SSE and a WebSocket subscriber, once, with the selected payload', async () => {
    const ws = wsClient(gateway.url);
    const onWs = subscribeWs(ws, UPDATES);
    const onSse = await subscribeSse(gateway.url, UPDATES);
    const cnOnly = await subscribeSse(gateway.url, UPDATES, { filter: { jurisdiction: ['CN'] } });
    expect(onSse.status).toBe(200);
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(3));

    await setStatus('us-whitehouse-2025-12-08-h200-approval', 'SUSPENDED', 'paused for review');
    await setStatus('cn-2026-01-24-h200-orders-in-principle', 'IN_EFFECT', 'orders confirmed');

    const expectedUs = {
      fromStatus: 'APPROVED',
      toStatus: 'SUSPENDED',
      note: 'paused for review',
      decision: {
        slug: 'us-whitehouse-2025-12-08-h200-approval',
        jurisdiction: 'US',
        chips: [{ chip: { slug: 'h200' }, effect: 'PERMITTED_WITH_CONDITIONS' }],
      },
    };
    for (const subscription of [onWs, onSse]) {
      const [first, second] = await subscription.waitForResults(2);
      expect(first?.errors).toBeUndefined();
      expect(first?.data?.policyDecisionUpdated).toMatchObject(expectedUs);
      expect(second?.data?.policyDecisionUpdated).toMatchObject({
        fromStatus: 'APPROVED',
        toStatus: 'IN_EFFECT',
        decision: { slug: 'cn-2026-01-24-h200-orders-in-principle' },
      });
    }
    // The filtered subscriber's first event is the CN change: the US one, committed before it,
    // never reached it.
    const [cn] = await cnOnly.waitForResults(1);
    expect(cn?.data?.policyDecisionUpdated.decision.slug).toBe(
      'cn-2026-01-24-h200-orders-in-principle',
    );

    // The cursor is the stored row's event position.
    const [stored] = await queryRows<{ event_seq: string }>(
      db(),
      sql`select u.event_seq from policy_decision_updates u join policy_decisions d on d.id = u.decision_id
          where d.slug = 'us-whitehouse-2025-12-08-h200-approval' order by u.event_seq desc limit 1`,
    );
    expect(onWs.results[0]?.data?.policyDecisionUpdated.eventCursor).toBe(
      encodeEventCursor(Number(stored?.event_seq)),
    );

    await Promise.all([onWs.close(), onSse.close(), cnOnly.close()]);
    await ws.dispose();
    expect(onWs.results).toHaveLength(2);
    expect(onSse.results).toHaveLength(2);
    expect(cnOnly.results).toHaveLength(1);
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(0));
  });

  it('replays what came after an eventCursor, in commit order, then streams live', async () => {
    const from = await maxEventSeq(db(), 'policy_decision_updates');
    await setStatus('us-bis-2026-01-13-h200-license-review-policy', 'SUSPENDED', 'one');
    await setStatus('us-bis-2026-01-13-h200-license-review-policy', 'IN_EFFECT', 'two');

    const resumed = await subscribeSse(gateway.url, UPDATES, {
      after: encodeEventCursor(from),
      filter: { chip: 'h200' },
    });
    const replayed = await resumed.waitForResults(2);
    expect(replayed.map((r) => r.data?.policyDecisionUpdated.note)).toEqual(['one', 'two']);

    await setStatus('us-bis-2026-01-13-h200-license-review-policy', 'SUSPENDED', 'three');
    const all = await resumed.waitForResults(3);
    expect(all.map((r) => r.data?.policyDecisionUpdated.note)).toEqual(['one', 'two', 'three']);
    await resumed.close();
    expect(resumed.results).toHaveLength(3);
  });

  it('refuses an after: that is not an event cursor, with BAD_USER_INPUT, on both transports', async () => {
    const sse = await subscribeSse(gateway.url, UPDATES, { after: 'not-a-cursor' });
    const [sseResult] = await sse.waitForResults(1);
    expect(sseResult?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    await sse.waitForComplete();

    const ws = wsClient(gateway.url);
    const onWs = subscribeWs(ws, UPDATES, { after: Buffer.from('Timeline:1').toString('base64') });
    const [wsResult] = await onWs.waitForResults(1);
    expect(wsResult?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    await onWs.waitForComplete();
    await ws.dispose();
  });

  it('refuses a subscription over the depth or cost limit when it subscribes, on both transports', async () => {
    // Five levels of nested connections at first: 100: far over the cost budget.
    const expensive = `subscription { policyDecisionUpdated { decision { chips { chip {
      policyDecisions(first: 100) { edges { node { companies {
        demandSignals(first: 100) { edges { node {
          slug kind observedOn summary direction strength quantityUnits } } } } } } } } } } } }`;
    const sse = await subscribeSse(gateway.url, expensive);
    const [refused] = await sse.waitForResults(1);
    expect(refused?.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(refused?.errors?.[0]?.message).toMatch(
      /^Query is too expensive: cost \d+, the limit is 50000/,
    );
    await sse.waitForComplete();

    const deep = `subscription { demandSignalRecorded { companies { demandSignals(first: 1) {
      edges { node { companies { demandSignals(first: 1) { edges { node { companies {
      demandSignals(first: 1) { edges { node { slug } } } } } } } } } } } } } }`;
    const ws = wsClient(gateway.url);
    const onWs = subscribeWs(ws, deep);
    const [tooDeep] = await onWs.waitForResults(1);
    expect(tooDeep?.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(tooDeep?.errors?.[0]?.message).toMatch(/^Query is too deep/);
    await onWs.waitForComplete();
    await ws.dispose();
    expect(gateway.running.events.stats().subscribers).toBe(0);
  });

  it('refuses an after: past the newest event (a cursor from another database)', async () => {
    const newest = await maxEventSeq(db(), 'policy_decision_updates');
    const sse = await subscribeSse(gateway.url, UPDATES, {
      after: encodeEventCursor(newest + 1_000_000),
    });
    const [result] = await sse.waitForResults(1);
    expect(result?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result?.errors?.[0]?.message).toMatch(/another database/);
    await sse.waitForComplete();
  });

  it('rejects an invalid subscription document over WebSocket with a coded error', async () => {
    const ws = wsClient(gateway.url);
    const onWs = subscribeWs(ws, 'subscription { policyDecisionUpdated { nope } }');
    await onWs.waitForComplete();
    await ws.dispose();
    expect(onWs.results).toHaveLength(0);
    expect(onWs.failure).toMatchObject([{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]);
  });
});

describe('WebSocket authentication', () => {
  it('takes the API key from connectionParams: a write key may mutate over the socket, a bad key is refused with 4403', async () => {
    const key = await createKey(db(), ['write']);
    const ws = wsClient(gateway.url, { authorization: key.headers.authorization });
    const live = subscribeWs(ws, SIGNALS);
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(1));
    const mutation = subscribeWs(
      ws,
      /* GraphQL */ `mutation ($input: RecordDemandSignalInput!) {
        recordDemandSignal(input: $input) { __typename }
      }`,
      {
        input: {
          slug: 'ds-test-over-websocket',
          companies: ['bytedance'],
          kind: 'INTEREST',
          observedOn: '2026-02-04',
        },
      },
    );
    const [written] = await mutation.waitForResults(1);
    expect(written?.data).toEqual({
      recordDemandSignal: { __typename: 'RecordDemandSignalSuccess' },
    });
    const [event] = await live.waitForResults(1);
    expect(event?.data?.demandSignalRecorded.slug).toBe('ds-test-over-websocket');
    await live.close();
    await ws.dispose();

    // No key: reads work, the mutation is refused with UNAUTHENTICATED.
    const anonymous = wsClient(gateway.url);
    const refused = subscribeWs(
      anonymous,
      'mutation { upsertCompany(input: { slug: "x", name: "X", country: "US", roles: [BUYER], confidence: RECALLED }) { __typename } }',
    );
    const [denied] = await refused.waitForResults(1);
    expect(denied?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // No HTTP details over a WebSocket.
    expect(denied?.errors?.[0]?.extensions).not.toHaveProperty('http');
    await anonymous.dispose();

    for (const authorization of [`Bearer ${key.key}x`, 42]) {
      const bad = wsClient(gateway.url, { authorization });
      const never = subscribeWs(bad, SIGNALS);
      expect((await bad.closed).code).toBe(4403);
      await never.waitForComplete();
      expect(never.results).toHaveLength(0);
    }
  });
});

describe('demandSignalRecorded', () => {
  it('delivers a new signal with its chip and companies, filtered by company on the server', async () => {
    const ws = wsClient(gateway.url);
    const byteDance = subscribeWs(ws, SIGNALS, { filter: { company: 'bytedance' } });
    const anything = await subscribeSse(gateway.url, SIGNALS);
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(2));

    await insertSignal('ds-test-tencent-order', 'h20', ['tencent']);
    await insertSignal('ds-test-bytedance-order', 'h200', ['bytedance', 'nvidia']);

    const [first, second] = await anything.waitForResults(2);
    expect(first?.data?.demandSignalRecorded.slug).toBe('ds-test-tencent-order');
    expect(second?.data?.demandSignalRecorded).toEqual({
      slug: 'ds-test-bytedance-order',
      kind: 'ORDER',
      observedOn: '2026-02-02',
      quantityUnits: 5000,
      chip: { slug: 'h200', name: 'NVIDIA H200 (SXM)' },
      companies: [{ slug: 'bytedance' }, { slug: 'nvidia' }],
    });
    const [only] = await byteDance.waitForResults(1);
    expect(only?.data?.demandSignalRecorded.slug).toBe('ds-test-bytedance-order');

    await Promise.all([byteDance.close(), anything.close()]);
    await ws.dispose();
    expect(byteDance.results).toHaveLength(1);
  });
});

describe('resource hygiene', () => {
  it('one WebSocket holds at most CHIPGATE_WS_MAX_OPERATIONS subscriptions, and closing it frees them all', async () => {
    const events = gateway.running.events;
    await vi.waitFor(() => expect(events.stats().subscribers).toBe(0));
    const ws = wsClient(gateway.url);
    const open = Array.from({ length: 100 }, () => subscribeWs(ws, SIGNALS));
    await vi.waitFor(() => expect(events.stats().subscribers).toBe(100));
    const refused = subscribeWs(ws, SIGNALS);
    await refused.waitForComplete();
    // graphql-ws answers a refused operation with an `error` message: its GraphQL errors.
    expect(refused.failure).toMatchObject([{ extensions: { code: 'RATE_LIMITED' } }]);
    expect(events.stats().subscribers).toBe(100);
    await ws.dispose();
    await Promise.all(open.map((subscription) => subscription.close()));
    await vi.waitFor(() => {
      expect(events.stats().subscribers).toBe(0);
      expect(gateway.running.webSocketConnections()).toBe(0);
    });
  });

  it('after 500 connect/disconnect cycles over SSE and WebSocket, subscriber and socket counts are back at baseline', async () => {
    const events = gateway.running.events;
    await vi.waitFor(() => expect(events.stats().subscribers).toBe(0));
    // Each cycle resumes just before the latest signal, so it receives exactly that one
    // (replayed) before it disconnects: every cycle really registered with the hub.
    const after = encodeEventCursor((await maxEventSeq(db(), 'demand_signals')) - 1);
    for (let i = 0; i < 250; i += 1) {
      const sse = await subscribeSse(gateway.url, SIGNALS, { after });
      await sse.waitForResults(1);
      await sse.close();
    }
    for (let i = 0; i < 250; i += 1) {
      const ws = wsClient(gateway.url);
      const subscription = subscribeWs(ws, SIGNALS, { after });
      await subscription.waitForResults(1);
      await ws.dispose();
      await subscription.close();
    }
    await vi.waitFor(
      () => {
        expect(events.stats().subscribers).toBe(0);
        expect(gateway.running.webSocketConnections()).toBe(0);
      },
      { timeout: 10_000 },
    );
    // And the hub still delivers afterwards.
    const live = await subscribeSse(gateway.url, SIGNALS);
    await vi.waitFor(() => expect(events.stats().subscribers).toBe(1));
    await insertSignal('ds-test-after-churn', null, ['alibaba']);
    const [result] = await live.waitForResults(1);
    expect(result?.data?.demandSignalRecorded.slug).toBe('ds-test-after-churn');
    await live.close();
  }, 120_000);
});

describe('shutdown', () => {
  it('completes every subscription with its protocol message and releases the LISTEN connection', async () => {
    const stopping = await startInProcessGateway();
    const events = stopping.running.events;
    const ws = wsClient(stopping.url);
    const onWs = subscribeWs(ws, UPDATES);
    const onSse = await subscribeSse(stopping.url, SIGNALS);
    await vi.waitFor(() => expect(events.stats().subscribers).toBe(2));
    const listenPid = events.stats().listenBackendPid;
    expect(events.stats().listening).toBe(true);

    await stopping.running.stop();
    await onWs.waitForComplete();
    await onSse.waitForComplete();
    expect(onWs.completedCleanly).toBe(true);
    expect(onSse.completedCleanly).toBe(true);
    expect(events.stats()).toMatchObject({ subscribers: 0, listening: false });
    const closed = await ws.closed;
    expect(closed.code).toBe(1001);
    if (listenPid !== undefined) {
      // The server no longer has the LISTEN session.
      const [row] = await queryRows<{ alive: number }>(
        db(),
        sql`select count(*)::int as alive from pg_stat_activity where pid = ${listenPid}`,
      );
      expect(row?.alive).toBe(0);
    }
    await stopping.stop();
  }, 60_000);
});
