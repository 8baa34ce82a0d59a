/**
 * Two gateway processes sharing one Redis enforce one budget per key (the shared Redis on
 * 127.0.0.1:6379, under a key prefix of this run). With Redis gone they keep answering (each
 * counting on its own) and say so in the log; with Redis back the budget is shared again: that
 * Redis is this test's own, on a spare port, since stopping the shared one would disturb others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  limitSequence,
  type SharedKey,
  sharedGateways,
  sharedKey,
  TestRedis,
} from './helpers/redis.js';
import {
  type ChildGateway,
  type GatewayDatabase,
  killChildren,
  removeTempDirs,
} from './helpers/server.js';

const READ = '{ company(slug: "nvidia") { name } }';

let redis: TestRedis | undefined;
const databases: GatewayDatabase[] = [];
let a: ChildGateway;
let b: ChildGateway;
let c: ChildGateway;
let d: ChildGateway;
// Per sequence two keys, the second for when the minute turns mid-way: 6 a minute (shared
// budget), 2 a minute (during the outage), 2 a minute (Redis back).
const keys: SharedKey[] = [6, 6, 2, 2, 2, 2].map((limit) => sharedKey(['read'], limit));
const sequence = (gateways: ChildGateway[], key: number, fallback: number) =>
  limitSequence(gateways, READ, keys[key] as SharedKey, keys[fallback] as SharedKey);

afterAll(async () => {
  await killChildren();
  await redis?.kill();
  for (const database of databases) await database.cleanup();
  removeTempDirs();
});

describe('two gateways on the shared Redis (127.0.0.1:6379)', () => {
  beforeAll(async () => {
    [a, b] = await sharedGateways('redis://127.0.0.1:6379', keys, databases);
  }, 180_000);

  it('5 requests through A and 1 through B exhaust one budget of 6', async () => {
    expect(await sequence([a, a, a, a, a, b, b, a], 0, 1)).toEqual([
      [200, '5'],
      [200, '4'],
      [200, '3'],
      [200, '2'],
      [200, '1'],
      [200, '0'], // B: the sixth of the shared budget
      [429, '0'],
      [429, '0'],
    ]);
  });
});

describe('two gateways on a Redis of their own', () => {
  beforeAll(async () => {
    redis = await TestRedis.start();
    [c, d] = await sharedGateways(redis.url, keys, databases);
  }, 180_000);

  it('Redis stopped: both keep answering and log it; Redis back: the budget is shared again', async () => {
    if (!redis) throw new Error('no redis');
    await redis.kill();
    const lost = /^Redis (unreachable|connection lost): rate limits are counted per instance/;
    await Promise.all([c.waitForLog(lost, 20_000), d.waitForLog(lost, 20_000)]);
    // Each instance counts on its own now: 2 a minute through each.
    const apart = await sequence([c, c, d, d], 2, 3);
    expect(apart).toEqual([
      [200, '1'],
      [200, '0'],
      [200, '1'],
      [200, '0'],
    ]);

    await redis.restart();
    await Promise.all([
      c.waitForLog('Redis is back: rate limits are shared again', 20_000),
      d.waitForLog('Redis is back: rate limits are shared again', 20_000),
    ]);
    // Shared again: 1 through A and 1 through B use the key's 2.
    expect(await sequence([c, d, c], 4, 5)).toEqual([
      [200, '1'],
      [200, '0'],
      [429, '0'],
    ]);
  }, 90_000);
});
