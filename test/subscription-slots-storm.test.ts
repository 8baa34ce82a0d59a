/**
 * Per-key subscription slots stay exact through a reconnect storm: a key that may hold N
 * subscriptions holds them on gateway A (two child gateways sharing Redis); A goes away and the
 * N reconnect at once to gateway B: all N are accepted, one more is RATE_LIMITED, and the
 * caller's set in Redis holds exactly N leases, all B's. When A stops gracefully its leases
 * stop counting at once; when it is SIGKILLed they still sit in Redis (their lease lasts
 * LEASE_MS, 60 s) but stop counting once A's liveness key expires (ALIVE_MS).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ALIVE_MS } from '../src/access/subscription-slots.js';
import { UPDATES } from './helpers/queries.js';
import { redisVars, type SharedKey, sharedGateways, sharedKey } from './helpers/redis.js';
import {
  type ChildGateway,
  type GatewayDatabase,
  killChildren,
  removeTempDirs,
} from './helpers/server.js';
import {
  subscribeSse,
  subscribeWs,
  type TestSubscription,
  wsClient,
} from './helpers/subscribers.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const N = 4;

const databases: GatewayDatabase[] = [];
const sockets: ReturnType<typeof wsClient>[] = [];
let redis: Redis;
beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.dispose()));
  await killChildren();
  for (const database of databases) await database.cleanup();
  removeTempDirs();
  await redis?.quit();
});

/** Two gateways sharing Redis under a fresh prefix, and a key that may hold N subscriptions. */
async function pair() {
  const key = sharedKey(['read'], undefined, N);
  const vars = redisVars(REDIS_URL);
  const prefix = vars.CHIPGATE_REDIS_PREFIX as string;
  const [a, b] = await sharedGateways(REDIS_URL, [key], databases, vars);
  const scan = (pattern: string) => redis.keys(`${prefix}${pattern}`);
  /** The key's lease ids in Redis (its one set; none before the first subscription). */
  const leases = async () => {
    const sets = await scan('subscriptions:key:*');
    expect(sets.length).toBeLessThanOrEqual(1);
    return sets[0] ? (await redis.zrange(sets[0], 0, -1)).sort() : [];
  };
  return { a, b, key, leases, aliveKeys: () => scan('instance:*') };
}

/** N subscriptions of `key` on `gateway` at once, half over SSE and half over graphql-ws. */
async function subscribeN(gateway: ChildGateway, key: SharedKey): Promise<TestSubscription[]> {
  const socket = wsClient(gateway.url, { authorization: key.headers.authorization });
  sockets.push(socket);
  return Promise.all(
    Array.from({ length: N }, (_, i) =>
      i % 2 === 0
        ? subscribeSse(gateway.url, UPDATES, {}, key.headers)
        : subscribeWs(socket, UPDATES),
    ),
  );
}

/** The instance part of a lease id (`<at>:<instance>:<n>`). */
const instanceOf = (lease: string) => lease.split(':')[1];

/** Asserts B holds all N, exactly, and refuses one more. */
async function heldByB(b: ChildGateway, key: SharedKey, leases: () => Promise<string[]>) {
  const resumed = await subscribeN(b, key);
  await vi.waitFor(async () => expect(await leases()).toHaveLength(N), { timeout: 10_000 });
  for (const subscription of resumed) {
    expect(subscription.completed).toBe(false);
    expect(subscription.results).toEqual([]);
  }
  const extra = await subscribeSse(b.url, UPDATES, {}, key.headers);
  await extra.waitForComplete();
  expect(extra.status).toBe(429);
  expect(extra.results.flatMap((r) => r.errors ?? []).map((e) => e.extensions?.code)).toEqual([
    'RATE_LIMITED',
  ]);
  const held = await leases();
  expect(held).toHaveLength(N);
  expect(new Set(held.map(instanceOf)).size).toBe(1);
  return { resumed, held };
}

describe('subscription slots under a reconnect storm', () => {
  it('graceful stop: the N reconnect to another instance at once, all accepted, one more refused, N leases', async () => {
    const { a, b, key, leases, aliveKeys } = await pair();
    const first = await subscribeN(a, key);
    await vi.waitFor(async () => expect(await leases()).toHaveLength(N), { timeout: 10_000 });
    const onA = await leases();
    expect(await aliveKeys()).toHaveLength(1);

    expect(await a.stop()).toEqual({ code: 0, signal: null });
    await Promise.all(first.map((subscription) => subscription.waitForComplete()));
    // A said it is gone: its liveness key is deleted with it.
    expect(await aliveKeys()).toEqual([]);

    const { held, resumed } = await heldByB(b, key, leases);
    expect(held.some((lease) => onA.includes(lease))).toBe(false);
    await Promise.all(resumed.map((subscription) => subscription.close()));
    await vi.waitFor(async () => expect(await leases()).toEqual([]), { timeout: 10_000 });
  }, 120_000);

  it('SIGKILL: the dead instance leases free within ALIVE_MS, then the N reconnect at once, all accepted, one more refused, N leases', async () => {
    const { a, b, key, leases, aliveKeys } = await pair();
    await subscribeN(a, key);
    await vi.waitFor(async () => expect(await leases()).toHaveLength(N), { timeout: 10_000 });
    const onA = await leases();

    a.child.kill('SIGKILL');
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // Nobody removed A's leases: they would count for LEASE_MS (60 s).
    expect(await leases()).toEqual(onA);
    // A no longer refreshes its liveness key: it expires within ALIVE_MS.
    await vi.waitFor(async () => expect(await aliveKeys()).toEqual([]), {
      timeout: ALIVE_MS + 5_000,
      interval: 250,
    });

    const { held, resumed } = await heldByB(b, key, leases);
    expect(held.some((lease) => onA.includes(lease))).toBe(false);
    expect(await aliveKeys()).toHaveLength(1);
    await Promise.all(resumed.map((subscription) => subscription.close()));
    await vi.waitFor(async () => expect(await leases()).toEqual([]), { timeout: 10_000 });
  }, 120_000);
});
