/**
 * The shared Redis connection (`SharedRedis`) against a redis-server of this test's own: start-up
 * does not wait long for a Redis that is away, an outage costs one deadline and then no command
 * is sent until a probe finds Redis back, and a process too busy to read a reply in time does
 * not take Redis for gone.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createMetrics, scrape } from '../src/metrics.js';
import { SharedRedis, STARTUP_WAIT_MS } from '../src/redis.js';
import { recordingLogger, TestRedis } from './helpers/redis.js';
import { freePort } from './helpers/server.js';

const TIMEOUT_MS = 100;
/** Room for a loaded machine on top of what a bound promises. */
const SLACK_MS = 1_500;

const redisServers: TestRedis[] = [];
const connections: SharedRedis[] = [];
async function connect(
  url: string,
  logger = recordingLogger(),
  onStateChange?: Parameters<typeof SharedRedis.connect>[0]['onStateChange'],
) {
  const started = performance.now();
  const redis = await SharedRedis.connect({ url, timeoutMs: TIMEOUT_MS, logger, onStateChange });
  connections.push(redis);
  return { redis, logger, startedInMs: performance.now() - started };
}

afterEach(async () => {
  for (const redis of connections.splice(0)) await redis.close();
});
afterAll(async () => {
  for (const server of redisServers) await server.kill();
});

describe('start-up', () => {
  it('a refused Redis does not hold start-up; it is used once it answers', async () => {
    const port = await freePort();
    const { redis, logger, startedInMs } = await connect(`redis://127.0.0.1:${port}`);
    expect(startedInMs).toBeLessThan(STARTUP_WAIT_MS + SLACK_MS);
    expect(redis.available).toBe(false);
    expect(logger.lines).toEqual([
      { level: 'warn', message: expect.stringMatching(/^Redis unreachable/) },
    ]);
    let sent = 0;
    const ping = () =>
      redis.run(
        (client) => {
          sent += 1;
          return client.ping();
        },
        () => 'memory',
      );
    expect(await ping()).toBe('memory');
    expect(sent).toBe(0);

    const server = await TestRedis.start(port);
    redisServers.push(server);
    await logger.waitFor(/^Redis is back/);
    expect(redis.available).toBe(true);
    expect(await ping()).toBe('PONG');
    expect(sent).toBe(1);
    expect(logger.lines.map((line) => line.level)).toEqual(['warn', 'info']);
  });

  it('a stalled Redis holds start-up for the start-up wait at most', async () => {
    const server = await TestRedis.start();
    redisServers.push(server);
    server.pause();
    try {
      const { redis, startedInMs, logger } = await connect(server.url);
      expect(startedInMs).toBeLessThan(STARTUP_WAIT_MS + SLACK_MS);
      expect(redis.available).toBe(false);
      server.resume();
      await logger.waitFor(/^Redis is back/);
      expect(redis.available).toBe(true);
    } finally {
      server.resume();
    }
  });
});

describe('an outage', () => {
  it('costs one deadline: then nothing is sent until a probe finds Redis back', async () => {
    const server = await TestRedis.start();
    redisServers.push(server);
    const metrics = createMetrics();
    const { redis, logger } = await connect(
      server.url,
      recordingLogger(),
      metrics.redisBreakerChanged,
    );
    const breakerMetric = async () =>
      (await scrape(metrics.registry)).body
        .split('\n')
        .filter((line) => line.startsWith('chipgate_redis_breaker_state{'));
    expect(redis.available).toBe(true);
    let sent = 0;
    const get = () =>
      redis.run(
        (client) => {
          sent += 1;
          return client.get('chipgate-test-redis-absent');
        },
        () => 'memory',
      );
    expect(await get()).toBeNull();

    server.pause();
    try {
      const started = performance.now();
      expect(await get()).toBe('memory');
      const firstMs = performance.now() - started;
      expect(firstMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
      expect(firstMs).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      expect(redis.available).toBe(false);
      expect(await breakerMetric()).toContain('chipgate_redis_breaker_state{state="open"} 1');
      // Every later call takes the fallback without sending anything (the probe sends PINGs).
      const results = await Promise.all(Array.from({ length: 50 }, get));
      expect(new Set(results)).toEqual(new Set(['memory']));
      expect(sent).toBe(2);
    } finally {
      server.resume();
    }
    await logger.waitFor(/^Redis is back/);
    expect(await get()).toBeNull();
    expect(sent).toBe(3);
    expect(logger.lines.map((line) => line.level)).toEqual(['warn', 'info']);
    expect(await breakerMetric()).toEqual([
      'chipgate_redis_breaker_state{state="closed"} 1',
      'chipgate_redis_breaker_state{state="open"} 0',
      'chipgate_redis_breaker_state{state="half-open"} 0',
      'chipgate_redis_breaker_state{state="isolated"} 0',
    ]);
  });

  it('is not what a busy process sees: a reply that arrived in time is read after the deadline', async () => {
    const server = await TestRedis.start();
    redisServers.push(server);
    const { redis, logger } = await connect(server.url);
    const pending = redis.run(
      (client) => client.ping(),
      () => 'memory',
    );
    // Busy for many deadlines: Redis answers meanwhile, the deadline's timer is due first.
    const busyUntil = performance.now() + 15 * TIMEOUT_MS;
    while (performance.now() < busyUntil) {}
    expect(await pending).toBe('PONG');
    expect(redis.available).toBe(true);
    expect(logger.lines).toEqual([]);
  });
});

describe('the deadline', () => {
  /** Keeps the process busy: `chunks` turns of the event loop, each `chunkMs` of work. */
  function busyTurns(chunks: number, chunkMs: number): Promise<void> {
    return new Promise((resolve) => {
      const turn = (left: number) => {
        const until = performance.now() + chunkMs;
        while (performance.now() < until) {}
        if (left > 1) setImmediate(() => turn(left - 1));
        else resolve();
      };
      setImmediate(() => turn(chunks));
    });
  }

  it('counts from when the command was sent, not from the start of a long turn of the event loop', async () => {
    const server = await TestRedis.start();
    redisServers.push(server);
    const logger = recordingLogger();
    // A deadline ten times what the command takes (BLPOP answers after its 0.1 s timeout, or
    // at Redis' next tick of 0.1 s at most): the command is on time by a wide margin.
    const redis = await SharedRedis.connect({ url: server.url, timeoutMs: 1_000, logger });
    connections.push(redis);
    // A turn busy for longer than the deadline, then the command, in the same turn.
    const busyUntil = performance.now() + 1_500;
    while (performance.now() < busyUntil) {}
    const started = performance.now();
    const reply = await redis.run<unknown>(
      (client) => client.blpop('chipgate-test-redis-empty-list', 0.1),
      () => 'memory',
    );
    const waitedMs = performance.now() - started;
    expect(reply).toBeNull();
    expect(waitedMs).toBeGreaterThanOrEqual(100 - 1);
    expect(redis.available).toBe(true);
    expect(logger.lines).toEqual([]);
  });

  it('bounds the wait of a busy process on a stalled Redis: the deadline plus the turns of work under way', async () => {
    const server = await TestRedis.start();
    redisServers.push(server);
    const { redis } = await connect(server.url);
    server.pause();
    try {
      // Other work shares the process: turns of 50 ms each, for 40 deadlines.
      const CHUNK_MS = 50;
      const load = busyTurns((40 * TIMEOUT_MS) / CHUNK_MS, CHUNK_MS);
      const started = performance.now();
      const reply = await redis.run(
        (client) => client.get('chipgate-test-redis-absent'),
        () => 'memory',
      );
      const waitedMs = performance.now() - started;
      expect(reply).toBe('memory');
      expect(redis.available).toBe(false);
      // A turn under way is never interrupted; a few of them past the deadline at most.
      expect(waitedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
      expect(waitedMs).toBeLessThan(TIMEOUT_MS + 4 * CHUNK_MS + SLACK_MS);
      await load;
    } finally {
      server.resume();
    }
  });
});
