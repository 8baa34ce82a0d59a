/**
 * The database goes away while a subscription event's payload is being read (PostgreSQL: the
 * gateway's connections run through a TCP proxy that cuts them at the moment the payload
 * statement is sent; the hub's own reads and the test's writes are not touched). Nothing is
 * silently lost: a read that fails is retried within CHIPGATE_DATABASE_TIMEOUT_MS and the event
 * arrives; one that keeps failing ends the subscription with DATABASE_UNAVAILABLE and
 * `extensions.resumeAfter`, and resubscribing `after:` it delivers the event exactly once.
 * (PGlite runs in the gateway's process: its reads do not fail this way.)
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../src/db/client.js';
import { backend } from './helpers/database.js';
import {
  type GatewayDatabase,
  gatewayDatabase,
  type InProcessGateway,
  startInProcessGateway,
} from './helpers/server.js';
import { subscribeSse, subscribeWs, wsClient } from './helpers/subscribers.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { insertSignal } from './helpers/writes.js';

/** `summary` is read by the payload statement only (not by the hub or the cursor checks). */
const SIGNALS = /* GraphQL */ `
  subscription($after: String) {
    demandSignalRecorded(filter: { company: "alibaba" }, after: $after) { slug summary eventCursor }
  }
`;
const PAYLOAD_TEXT = 'summary';

let database: GatewayDatabase;
let proxy: TcpProxy;
let gateway: InProcessGateway;
let writer: DatabaseHandle;

beforeAll(async () => {
  if (backend !== 'postgres') return;
  database = await gatewayDatabase();
  const direct = new URL(database.env.DATABASE_URL ?? '');
  proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const proxied = new URL(direct);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  gateway = await startInProcessGateway(
    { DATABASE_URL: proxied.toString(), CHIPGATE_DATABASE_TIMEOUT_MS: '1500' },
    undefined,
    database,
  );
  writer = await openDatabase({ databaseUrl: direct.toString(), poolMax: 1 });
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  await proxy?.close();
  await writer?.close();
  await database?.cleanup();
});

/** Cuts the gateway's connections each time it sends the payload statement, until stopped. */
function cutPayloadReads(): { cuts: () => number; stop: () => void } {
  let stopped = false;
  let cuts = 0;
  void (async () => {
    while (!stopped) {
      await proxy.holdClientSend(PAYLOAD_TEXT);
      if (stopped) {
        proxy.releaseHeld();
        return;
      }
      proxy.cut('rst');
      cuts += 1;
    }
  })();
  return { cuts: () => cuts, stop: () => (stopped = true) };
}

describe.runIf(backend === 'postgres')('a subscription event whose read fails', () => {
  it('is retried and delivered when the database answers again within the deadline (graphql-ws)', async () => {
    const ws = wsClient(gateway.url);
    const subscription = subscribeWs(ws, SIGNALS);
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(1));
    // Only the first attempt is cut (on fresh connections, which send the statement's text).
    proxy.cut('fin');
    const held = proxy.holdClientSend(PAYLOAD_TEXT).then(() => proxy.cut('rst'));
    await insertSignal(writer.db, 'ds-read-retried', null, ['alibaba']);
    await held;
    await insertSignal(writer.db, 'ds-read-after', null, ['alibaba']);
    const results = await subscription.waitForResults(2, 30_000);
    expect(results.map((r) => r.errors)).toEqual([undefined, undefined]);
    expect(results.map((r) => r.data?.demandSignalRecorded.slug)).toEqual([
      'ds-read-retried',
      'ds-read-after',
    ]);
    expect(subscription.completed).toBe(false);
    await subscription.close();
    await ws.dispose();
  }, 60_000);

  it('ends with DATABASE_UNAVAILABLE and resumeAfter when it keeps failing; after: it delivers the event once (SSE)', async () => {
    const first = await subscribeSse(gateway.url, SIGNALS);
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(1));
    await insertSignal(writer.db, 'ds-read-before', null, ['alibaba']);
    const [before] = await first.waitForResults(1, 30_000);
    expect(before?.data?.demandSignalRecorded.slug).toBe('ds-read-before');

    // postgres.js sends a statement's text once per connection (then binds the prepared
    // statement): fresh connections send it again, where the proxy can see it.
    proxy.cut('fin');
    const cutting = cutPayloadReads();
    await insertSignal(writer.db, 'ds-read-lost', null, ['alibaba']);
    await first.waitForComplete(30_000);
    cutting.stop();
    // The first attempt and its retries within 1.5 s were all cut.
    expect(cutting.cuts()).toBeGreaterThanOrEqual(2);
    expect(first.results).toHaveLength(2);
    const failed = first.results[1];
    expect(failed?.data ?? null).toBeNull();
    expect(failed?.errors).toHaveLength(1);
    expect(failed?.errors?.[0]?.extensions?.code).toBe('DATABASE_UNAVAILABLE');
    expect(failed?.errors?.[0]?.message).toMatch(
      /Resubscribe with `after: extensions.resumeAfter`/,
    );
    const resumeAfter = failed?.errors?.[0]?.extensions?.resumeAfter;
    expect(typeof resumeAfter).toBe('string');

    const resumed = await subscribeSse(gateway.url, SIGNALS, { after: resumeAfter });
    await insertSignal(writer.db, 'ds-read-live', null, ['alibaba']);
    const results = await resumed.waitForResults(2, 30_000);
    expect(results.map((r) => r.errors)).toEqual([undefined, undefined]);
    expect(results.map((r) => r.data?.demandSignalRecorded.slug)).toEqual([
      'ds-read-lost',
      'ds-read-live',
    ]);
    await resumed.close();
    expect(resumed.results).toHaveLength(2);
  }, 60_000);
});
