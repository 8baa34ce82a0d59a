/**
 * Subscription slots of two instances (two `SubscriptionSlots`, each with its own connection)
 * sharing a Redis of this test's own, which the test kills and starts again (empty) on the same
 * port, or stalls (SIGSTOP: it runs what it was sent when it resumes). During the outage a
 * caller holds at most its limit per instance, the slots taken before it included; when Redis
 * is back every slot held is a lease again and no other lease is left, so the shared count is
 * exact, and releasing them all leaves no lease behind.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { type SlotLease, SubscriptionSlots } from '../src/access/subscription-slots.js';
import { SharedRedis } from '../src/redis.js';
import { recordingLogger, TestRedis } from './helpers/redis.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** An instance: its own Redis connection (and logger) and slots under the shared `prefix`. */
async function instance(url: string, prefix: string) {
  const logger = recordingLogger();
  const redis = await SharedRedis.connect({ url, timeoutMs: 250, logger });
  const slots = new SubscriptionSlots({ redis, prefix, clock: Date.now });
  cleanups.push(
    () => redis.close(),
    () => slots.close(),
  );
  return { redis, logger, slots };
}

/** Takes slots until one is refused; returns the ones taken. */
async function takeAll(slots: SubscriptionSlots, subject: string, max: number) {
  const taken: SlotLease[] = [];
  for (let i = 0; i < 2 * max + 2; i++) {
    const lease = await slots.acquire(subject, max);
    if (!lease) break;
    taken.push(lease);
  }
  return taken;
}

/**
 * Two instances' slots on one private redis-server (killed after the test) under a fresh key
 * prefix, and the Redis members of `subject`'s slot set, sorted.
 */
async function twoInstances(subject: string) {
  const server = await TestRedis.start();
  cleanups.push(() => server.kill());
  const prefix = `chipgate-test-${randomBytes(6).toString('hex')}:`;
  const a = await instance(server.url, prefix);
  const b = await instance(server.url, prefix);
  const key = `${prefix}subscriptions:${subject}`;
  const members = async () => (await a.redis.client.zrange(key, 0, -1)).sort();
  return { server, a, b, subject, members };
}

describe('subscription slots through a Redis outage', () => {
  it('hold at most the limit per instance meanwhile, and are leases again when Redis is back', async () => {
    const { server, a, b, subject, members } = await twoInstances('key:42');
    const MAX = 3;

    const before = [
      await a.slots.acquire(subject, MAX),
      await a.slots.acquire(subject, MAX),
      await b.slots.acquire(subject, MAX),
    ];
    expect(before.every((lease) => lease !== undefined)).toBe(true);
    expect(await a.slots.acquire(subject, MAX)).toBeUndefined();
    expect(await b.slots.acquire(subject, MAX)).toBeUndefined();

    await server.kill();
    await Promise.all([
      a.logger.waitFor(/^Redis unreachable/),
      b.logger.waitFor(/^Redis unreachable/),
    ]);
    // Each instance counts what it holds, the slots taken before the outage included.
    const duringA = await takeAll(a.slots, subject, MAX);
    const duringB = await takeAll(b.slots, subject, MAX);
    expect([duringA.length, duringB.length]).toEqual([1, 2]);
    expect([await a.slots.active(subject), await b.slots.active(subject)]).toEqual([3, 3]);
    // One released during the outage: its lease (if Redis still had it) must not come back.
    before[0]?.release();
    duringA[0]?.release();

    await server.restart();
    await Promise.all([a.logger.waitFor(/^Redis is back/), b.logger.waitFor(/^Redis is back/)]);
    const held = [before[1], before[2], ...duringB].map((lease) => lease?.id);
    expect(await members()).toEqual(held.sort());
    expect([await a.slots.active(subject), await b.slots.active(subject)]).toEqual([4, 4]);
    // Over the limit across instances: no instance takes a new slot until enough have ended.
    expect(await a.slots.acquire(subject, MAX)).toBeUndefined();
    expect(await b.slots.acquire(subject, MAX)).toBeUndefined();
    before[2]?.release();
    duringB[0]?.release();
    const again = await a.slots.acquire(subject, MAX);
    expect(again).toBeDefined();
    expect(await b.slots.acquire(subject, MAX)).toBeUndefined();

    for (const lease of [before[1], duringB[1], again]) lease?.release();
    await expect.poll(members, { timeout: 5_000 }).toEqual([]);
    expect([await a.slots.active(subject), await b.slots.active(subject)]).toEqual([0, 0]);
  });

  it('a stalled Redis runs the commands it was sent when it resumes: leases of slots not held are removed', async () => {
    const { server, a, b, subject, members } = await twoInstances('key:43');
    const MAX = 3;
    const first = await a.slots.acquire(subject, MAX);
    const other = await b.slots.acquire(subject, MAX);

    server.pause();
    let resumed = false;
    try {
      // Sent to the stalled Redis, past its deadline: taken in memory (Redis adds it on resuming).
      const sent = await a.slots.acquire(subject, MAX);
      expect(a.redis.available).toBe(false);
      const more = await takeAll(a.slots, subject, MAX);
      expect([sent !== undefined, more.length]).toEqual([true, 1]);
      // Released before Redis took it: the lease Redis adds on resuming must not stay.
      sent?.release();
      server.resume();
      resumed = true;
      await a.logger.waitFor(/^Redis is back/);
      const held = [first, other, ...more].map((lease) => lease?.id);
      expect(await members()).toEqual(held.sort());
      expect(await b.slots.active(subject)).toBe(3);
      for (const lease of [first, other, ...more]) lease?.release();
      await expect.poll(members, { timeout: 5_000 }).toEqual([]);
    } finally {
      if (!resumed) server.resume();
    }
  });
});
