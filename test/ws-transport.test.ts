/**
 * The WebSocket transport at scale (`src/live/ws-socket.ts`), over real sockets on 127.0.0.1
 * with raw `ws` clients speaking graphql-transport-ws, so that the bytes on the wire can be read
 * as they are and a client can stop reading (its socket paused):
 * - subscribers of one cohort get the same `next` message but for their id (one serialisation);
 * - a client that stops reading is dropped with `SLOW_CONSUMER` + `resumeAfter` once its socket
 *   holds more than the bound, while another subscriber gets every event in order; it can
 *   resume from the cursor; the metric counts the drop; a socket that stays blocked is cut;
 * - keepalive: a client that does not answer pings is terminated, one that does stays open.
 */
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { encodeEventCursor } from '../src/codecs.js';
import { type Database, queryRows } from '../src/db/client.js';
import { type InProcessGateway, startInProcessGateway } from './helpers/server.js';
import { subscribeWs, wsClient } from './helpers/subscribers.js';
import { insertSignal, maxEventSeq } from './helpers/writes.js';

/** A raw graphql-transport-ws client: every text message received, as it came. */
interface RawClient {
  socket: WebSocket;
  /** Messages received, in order, as strings. */
  messages: string[];
  /** Pings received from the server. */
  pings: number;
  /** Resolves with the close code when the socket closes. */
  closed: Promise<number>;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  /** Resolves when `check` holds for the messages received (checked on each message). */
  waitFor(check: (messages: string[]) => boolean, timeoutMs?: number): Promise<void>;
}

const clients: WebSocket[] = [];
const gateways: InProcessGateway[] = [];

afterEach(async () => {
  for (const socket of clients.splice(0)) socket.terminate();
  for (const gateway of gateways.splice(0)) await gateway.stop();
});

async function start(vars: Record<string, string>): Promise<InProcessGateway> {
  const gateway = await startInProcessGateway(vars);
  gateways.push(gateway);
  return gateway;
}

/** Connects to `url`, sends `connection_init` and waits for the ack. */
async function rawClient(url: string, options: WebSocket.ClientOptions = {}): Promise<RawClient> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', options);
  clients.push(socket);
  const messages: string[] = [];
  const listeners = new Set<() => void>();
  const client: RawClient = {
    socket,
    messages,
    pings: 0,
    closed: new Promise((resolve) => socket.once('close', (code) => resolve(code))),
    subscribe(id, query, variables = {}) {
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    },
    waitFor(check, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const attempt = () => {
          if (!check(messages)) return;
          clearTimeout(timer);
          listeners.delete(attempt);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(attempt);
          reject(new Error(`timed out; got ${messages.length} messages: ${messages.slice(-3)}`));
        }, timeoutMs);
        listeners.add(attempt);
        attempt();
      });
    },
  };
  socket.on('message', (data) => {
    messages.push(String(data));
    for (const listener of [...listeners]) listener();
  });
  socket.on('ping', () => {
    client.pings += 1;
    for (const listener of [...listeners]) listener();
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await client.waitFor((got) => got.some((m) => JSON.parse(m).type === 'connection_ack'));
  return client;
}

/** The parsed messages of subscription `id`, in order. */
function messagesOf(client: RawClient, id: string): any[] {
  return client.messages.map((m) => JSON.parse(m)).filter((m) => m.id === id);
}

/** Records an ORDER signal whose `summary` is `summary` (a large event on demand), in one statement. */
async function insertLargeSignal(db: Database, slug: string, summary: string) {
  await db.execute(sql`insert into demand_signals
      (slug, chip_id, kind, observed_on, quantity_units, confidence, summary)
    values (${slug}, (select id from chips where slug = 'h20'), 'ORDER', '2026-02-02', 5000,
      'RECALLED', ${summary})`);
}

/** The dropped-subscriber counter of a gateway, for `transport`. */
async function droppedCount(gateway: InProcessGateway, transport: string): Promise<number> {
  const metric = gateway.running.metrics.registry.getSingleMetric(
    'chipgate_subscribers_dropped_total',
  );
  const { values } = await (
    metric as unknown as {
      get(): Promise<{ values: { value: number; labels: { transport?: string } }[] }>;
    }
  ).get();
  return values.find((value) => value.labels.transport === transport)?.value ?? 0;
}

describe('one serialisation per cohort', () => {
  it('two subscribers of one cohort get the same next message but for their id (JSON-escaped)', async () => {
    const gateway = await start({});
    const query = 'subscription { demandSignalRecorded { slug kind chip { slug } eventCursor } }';
    const first = await rawClient(gateway.url);
    const second = await rawClient(gateway.url);
    const oddId = 'b "quoted" \\ id';
    first.subscribe('a', query);
    second.subscribe(oddId, query);
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(2));

    await insertSignal(gateway.running.db.db, 'ds-ws-cohort', 'h20', ['nvidia']);
    const isNext = (m: string) => JSON.parse(m).type === 'next';
    await first.waitFor((got) => got.some(isNext));
    await second.waitFor((got) => got.some(isNext));
    const a = first.messages.find(isNext) as string;
    const b = second.messages.find(isNext) as string;

    const [row] = await queryRows<{ event_seq: string }>(
      gateway.running.db.db,
      sql`select event_seq from demand_signals where slug = 'ds-ws-cohort'`,
    );
    const payload = JSON.parse(a).payload;
    expect(payload).toEqual({
      data: {
        demandSignalRecorded: {
          slug: 'ds-ws-cohort',
          kind: 'ORDER',
          chip: { slug: 'h20' },
          eventCursor: encodeEventCursor(Number(row?.event_seq)),
        },
      },
    });
    expect(a).toBe(`{"id":"a","type":"next","payload":${JSON.stringify(payload)}}`);
    expect(b).toBe(a.replace('{"id":"a",', `{"id":${JSON.stringify(oddId)},`));
    expect(JSON.parse(b).id).toBe(oddId);
  }, 60_000);
});

describe('a client that stops reading', () => {
  it('is dropped with SLOW_CONSUMER and resumeAfter past the bound, while another subscriber gets every event in order', async () => {
    const bound = 16_384;
    const gateway = await start({
      CHIPGATE_SSE_MAX_BUFFERED_BYTES: String(bound),
      // No keepalive verdict during the test: the paused client answers no ping.
      CHIPGATE_HEARTBEAT_MS: '600000',
    });
    const db = gateway.running.db.db;
    const query =
      'subscription S($after: String) { demandSignalRecorded(after: $after) { slug eventCursor summary } }';
    const reader = wsClient(gateway.url);
    const steady = subscribeWs(reader, query);
    // The slow client holds 40 subscriptions of the same cohort: each event costs it 40 times
    // what it costs the reader, so its socket passes the bound long before the reader's could
    // (events are about 8 KB, half the bound).
    const slow = await rawClient(gateway.url);
    const ids = Array.from({ length: 40 }, (_v, i) => `slow-${i}`);
    for (const id of ids) slow.subscribe(id, query);
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(41));
    // Nothing of what follows is read until the drop: the kernel buffers fill, then the socket's.
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();

    // 40 events of 8 KB to 40 subscriptions: 12.8 MB, more than the loopback buffers hold.
    const count = 40;
    const summary = (i: number) => `${i}:`.padEnd(8_000, 'x');
    const slugs = Array.from({ length: count }, (_v, i) => `ds-ws-slow-${i}`);
    const writing = (async () => {
      for (const [i, slug] of slugs.entries()) await insertLargeSignal(db, slug, summary(i));
    })();
    // Every slow subscription is unregistered at once: the hub holds nothing more for them.
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(1), {
      timeout: 60_000,
      interval: 50,
    });
    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    await writing;
    await gateway.running.events.delivered(await maxEventSeq(db, 'demand_signals'));

    // The subscriber that reads got every event, in order, none twice.
    const all = await steady.waitForResults(count, 60_000);
    expect(all.map((result) => result.data?.demandSignalRecorded.slug)).toEqual(slugs);
    expect(all.map((result) => result.data?.demandSignalRecorded.summary)).toEqual(
      slugs.map((_s, i) => summary(i)),
    );
    expect(steady.completed).toBe(false);

    // Each slow subscription: the first events in order, then SLOW_CONSUMER with the last
    // one's cursor, then complete; the socket stays open.
    const completed = (id: string) => messagesOf(slow, id).some((m) => m.type === 'complete');
    await slow.waitFor(() => ids.every(completed), 30_000);
    for (const id of ids) {
      const own = messagesOf(slow, id);
      expect(own.at(-1)).toEqual({ id, type: 'complete' });
      const nexts = own.slice(0, -1);
      expect(nexts.every((m) => m.type === 'next')).toBe(true);
      const got = nexts.slice(0, -1).map((m) => m.payload.data.demandSignalRecorded);
      expect(got.length).toBeGreaterThan(0);
      expect(got.length).toBeLessThan(count);
      expect(got.map((signal) => signal.slug)).toEqual(slugs.slice(0, got.length));
      const last = nexts.at(-1).payload;
      expect(last.data).toBeUndefined();
      expect(last.errors).toHaveLength(1);
      expect(last.errors[0].extensions).toEqual({
        code: 'SLOW_CONSUMER',
        resumeAfter: got.at(-1).eventCursor,
      });
      expect(last.errors[0].message).toMatch(/Resubscribe with `after: extensions.resumeAfter`/);
    }
    expect(slow.socket.readyState).toBe(WebSocket.OPEN);
    expect(await droppedCount(gateway, 'websocket')).toBe(ids.length);
    expect(await droppedCount(gateway, 'sse')).toBe(0);

    // Resuming from the cursor on the same socket gives exactly what it missed.
    const first = messagesOf(slow, 'slow-0');
    const resumeAfter = first.at(-2).payload.errors[0].extensions.resumeAfter;
    const missed = slugs.slice(first.length - 2);
    expect(missed.length).toBeGreaterThan(0);
    slow.subscribe('again', query, { after: resumeAfter });
    const nextsOf = (id: string) => messagesOf(slow, id).filter((m) => m.type === 'next');
    await slow.waitFor(() => nextsOf('again').length >= missed.length, 30_000);
    expect(nextsOf('again').map((m) => m.payload.data.demandSignalRecorded.slug)).toEqual(missed);
    await steady.close();
    await reader.dispose();
  }, 180_000);
  it('is cut when its socket is still over the bound once the grace after the drop has passed', async () => {
    const gateway = await start({
      CHIPGATE_SSE_MAX_BUFFERED_BYTES: '16384',
      CHIPGATE_HEARTBEAT_MS: '600000',
    });
    const db = gateway.running.db.db;
    const query = 'subscription { demandSignalRecorded { slug summary } }';
    const slow = await rawClient(gateway.url);
    const ids = Array.from({ length: 40 }, (_v, i) => `slow-${i}`);
    for (const id of ids) slow.subscribe(id, query);
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(40));
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    expect(gateway.running.webSocketConnections()).toBe(1);

    for (let i = 0; i < 40; i += 1) {
      await insertLargeSignal(db, `ds-ws-stuck-${i}`, `${i}:`.padEnd(8_000, 'x'));
    }
    await vi.waitFor(() => expect(gateway.running.events.stats().subscribers).toBe(0), {
      timeout: 60_000,
    });
    expect(await droppedCount(gateway, 'websocket')).toBe(ids.length);
    // It never reads again: the gateway lets its socket go (10 s after the first drop).
    await vi.waitFor(() => expect(gateway.running.webSocketConnections()).toBe(0), {
      timeout: 60_000,
      interval: 200,
    });
  }, 180_000);
});

describe('keepalive on the instance heartbeat', () => {
  it('terminates a client that answers no ping and keeps one that does', async () => {
    const gateway = await start({ CHIPGATE_HEARTBEAT_MS: '200' });
    const mute = await rawClient(gateway.url, { autoPong: false });
    const answering = await rawClient(gateway.url);
    expect(gateway.running.webSocketConnections()).toBe(2);
    // Pinged on one beat, no pong by the next: terminated (abnormal closure, no close frame).
    expect(await mute.closed).toBe(1006);
    expect(mute.pings).toBeGreaterThanOrEqual(1);
    // The answering client keeps being pinged, beat after beat, and stays open.
    const seen = answering.pings;
    await answering.waitFor(() => answering.pings >= seen + 3);
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
    await vi.waitFor(() => expect(gateway.running.webSocketConnections()).toBe(1));
  }, 60_000);
});
