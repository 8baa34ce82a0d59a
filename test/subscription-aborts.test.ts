/**
 * An SSE subscription whose client goes away before its response starts (an abort a few
 * milliseconds after the request is sent) must give back everything it took: its subscription
 * slot (in memory, or the lease in Redis that every instance counts), its subscriber in the event
 * hub and its place in `chipgate_subscriptions_open`. Real requests on a real socket, aborted by
 * the client at varied delays; then the key must still get its two subscriptions.
 */
import { sql } from 'drizzle-orm';
import type { Gauge } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeEventCursor } from '../src/codecs.js';
import { createKey, type TestKey } from './helpers/keys.js';
import { UPDATES } from './helpers/queries.js';
import { redisVars } from './helpers/redis.js';
import { type InProcessGateway, removeTempDirs, startInProcessGateway } from './helpers/server.js';
import { subscribeSse } from './helpers/subscribers.js';

afterAll(() => removeTempDirs());

describe.each([
  ['memory', {}],
  ['Redis', redisVars()],
])('SSE subscriptions aborted early, slots in %s', (_mode, vars: Record<string, string>) => {
  let gateway: InProcessGateway;
  let key: TestKey;
  beforeAll(async () => {
    gateway = await startInProcessGateway(vars);
    const db = gateway.running.db.db;
    key = await createKey(db, ['read'], 'two subscriptions');
    await db.execute(sql`update api_keys set max_subscriptions = 2 where id = ${key.id}`);
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  /** What the instance holds for the key: slots (all instances), subscribers, the SSE gauge. */
  async function held() {
    const gauge = gateway.running.metrics.registry.getSingleMetric(
      'chipgate_subscriptions_open',
    ) as Gauge;
    const sse = (await gauge.get()).values.find((value) => value.labels.transport === 'sse');
    return {
      slots: await gateway.running.access.slots.active(`key:${key.id}`),
      subscribers: gateway.running.events.stats().subscribers,
      gauge: sse?.value ?? 0,
      sessions: gateway.running.access.sessions.held(key.id).subscriptions,
    };
  }

  /** Subscribes over SSE and reads the stream until `signal` aborts the request. */
  async function subscribeSseAborting(signal: AbortSignal, variables: Record<string, unknown>) {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...key.headers },
      body: JSON.stringify({ query: UPDATES, variables }),
      signal,
    });
    for await (const _chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      // Read until the abort.
    }
  }

  it('50 aborts 0-40 ms after sending, 20 as the slot is taken: nothing stays held; the key still gets its 2', async () => {
    for (let i = 0; i < 50; i++) {
      const abort = new AbortController();
      // Half of them resume `after:` a cursor, which reads the database while subscribing.
      const sent = subscribeSseAborting(abort.signal, i % 2 ? { after: encodeEventCursor(1) } : {});
      setTimeout(() => abort.abort(), (i * 7) % 41);
      await sent.catch(() => {});
    }
    // Aborted the moment the gateway took the slot, while it reads the database for `after:`.
    const slots = () => gateway.running.access.slots.active(`key:${key.id}`);
    for (let i = 0; i < 20; i++) {
      const abort = new AbortController();
      let answered = false;
      const sent = subscribeSseAborting(abort.signal, { after: encodeEventCursor(1) }).finally(
        () => {
          answered = true;
        },
      );
      while (!answered && (await slots()) === 0) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      abort.abort();
      await sent.catch(() => {});
    }
    await vi.waitFor(
      async () => expect(await held()).toEqual({ slots: 0, subscribers: 0, gauge: 0, sessions: 0 }),
      {
        timeout: 10_000,
        interval: 100,
      },
    );

    const first = await subscribeSse(gateway.url, UPDATES, {}, key.headers);
    const second = await subscribeSse(gateway.url, UPDATES, {}, key.headers);
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await subscribeSse(gateway.url, UPDATES, {}, key.headers);
    await third.waitForComplete();
    expect(third.status).toBe(429);
    expect(third.results.flatMap((r) => r.errors ?? []).map((e) => e.extensions?.code)).toEqual([
      'RATE_LIMITED',
    ]);
    await first.close();
    await second.close();
    await vi.waitFor(
      async () => expect(await held()).toEqual({ slots: 0, subscribers: 0, gauge: 0, sessions: 0 }),
      {
        timeout: 10_000,
        interval: 100,
      },
    );
  });
});
