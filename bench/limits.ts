/**
 * `npm run bench:limits`: what the partner limit check costs per request, with the counters in
 * process memory and in Redis (`BENCH_REDIS_URL`, default redis://127.0.0.1:6379; skipped when
 * it does not answer).
 *
 * 1. The check alone: a request's admission (count the request, charge a cost of 12) against
 *    the counters, serially and with BENCH_CONNECTIONS callers at once; µs per request.
 * 2. End to end: the gateway (`createApp` over a seeded in-memory PGlite, on node:http) loaded
 *    with autocannon by one API key on a small query, counters in memory vs in Redis;
 *    requests/s and latency. The difference between the two rows is Redis' share.
 *
 * Settings: BENCH_ITERATIONS (20000), BENCH_DURATION (10 s), BENCH_CONNECTIONS (10),
 * BENCH_REDIS_URL. Keys are written under a random `chipgate-bench-*` prefix and expire
 * within two minutes.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import autocannon from 'autocannon';
import { Counters } from '../src/access/counters.js';
import { createApp } from '../src/app.js';
import { generateKey } from '../src/auth.js';
import { insertApiKey } from '../src/db/api-keys.js';
import { wrapPglite } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';
import { seed } from '../src/db/seed.js';
import { accessConfigOf, loadEnv, queryLimitsOf } from '../src/env.js';
import { EventHub } from '../src/pubsub/hub.js';
import { SharedRedis } from '../src/redis.js';
import { num, table } from './report.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20_000);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUERY = '{ chip(slug: "h200") { name tpp } }';
const prefix = () => `chipgate-bench-${randomBytes(4).toString('hex')}:`;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** Admissions per second and µs each: serially, then CONNECTIONS at once. */
async function measureCheck(counters: Counters) {
  const admit = async (subject: string) => {
    await counters.countRequest(subject, 1e9);
    await counters.add('COST', subject, 12, 1e12);
  };
  for (let i = 0; i < 1_000; i++) await admit('key:warm');
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const start = process.hrtime.bigint();
    await admit('key:1');
    samples.push(Number(process.hrtime.bigint() - start) / 1_000);
  }
  samples.sort((a, b) => a - b);
  const started = process.hrtime.bigint();
  const rounds = Math.ceil(ITERATIONS / CONNECTIONS);
  for (let i = 0; i < rounds; i++) {
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => admit(`key:${c + 2}`)));
  }
  const concurrentUs = Number(process.hrtime.bigint() - started) / 1_000 / (rounds * CONNECTIONS);
  return {
    mean: samples.reduce((sum, value) => sum + value, 0) / samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    concurrentUs,
  };
}

/** A seeded in-memory gateway with one API key, counting in `redis` (or memory). */
async function startGateway(redis: SharedRedis | undefined) {
  const handle = await wrapPglite(await PGlite.create('memory://'));
  await runMigrations(handle);
  await seed(handle.db);
  const key = generateKey();
  await insertApiKey(handle.db, { name: 'bench', ...key, scopes: ['read'] });
  const env = loadEnv({
    CHIPGATE_KEY_RATE_LIMIT: '1000000',
    CHIPGATE_KEY_COST_LIMIT: '1000000000',
  });
  const events = await EventHub.start(handle, { maxQueue: 1_000 });
  const app = createApp({
    db: handle.db,
    events,
    ping: () => handle.ping(),
    limits: queryLimitsOf(env),
    corsOrigins: [],
    graphiql: false,
    access: { config: { ...accessConfigOf(env), redisPrefix: prefix() }, redis },
  });
  const server = createServer((req, res) => app.yoga(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    authorization: `Bearer ${key.key}`,
    async stop() {
      await new Promise((resolve) => server.close(resolve));
      await events.close();
      await app.access.close();
      await app.yoga.dispose();
      await handle.close();
    },
  };
}

async function load(url: string, authorization: string, seconds: number) {
  return autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization },
    body: JSON.stringify({ query: QUERY }),
  });
}

async function main() {
  // The gateway's own connection: every command within the deadline, behind the breaker.
  const redis = await SharedRedis.connect({
    url: REDIS_URL,
    timeoutMs: loadEnv({}).CHIPGATE_REDIS_TIMEOUT_MS,
    logger: { info() {}, warn: (_, message) => console.log(message) },
  });
  if (!redis.available) console.log(`Redis at ${REDIS_URL} does not answer: Redis rows skipped.`);
  const modes: [string, SharedRedis | undefined][] = [['memory', undefined]];
  if (redis.available) modes.push(['redis', redis]);

  console.log(
    `\nThe check alone: count a request + charge its cost, ${ITERATIONS} serial, then ${CONNECTIONS} at once`,
  );
  const checkRows = [];
  for (const [name, client] of modes) {
    const result = await measureCheck(
      new Counters({ redis: client, prefix: prefix(), clock: Date.now }),
    );
    checkRows.push([
      name,
      num(result.mean, 1),
      num(result.p50, 1),
      num(result.p99, 1),
      num(result.concurrentUs, 1),
    ]);
  }
  console.log(table(['counters', 'mean µs', 'p50 µs', 'p99 µs', 'µs/req at once'], checkRows));

  console.log(
    `\nEnd to end: ${QUERY} with an API key, ${CONNECTIONS} connections, ${DURATION} s (after 2 s warm-up)`,
  );
  const loadRows = [];
  for (const [name, client] of modes) {
    const gateway = await startGateway(client);
    try {
      await load(gateway.url, gateway.authorization, 2);
      const result = await load(gateway.url, gateway.authorization, DURATION);
      loadRows.push([
        name,
        num(result.requests.average, 0),
        num(result.latency.p50, 1),
        num(result.latency.p99, 1),
        String(result.non2xx),
      ]);
    } finally {
      await gateway.stop();
    }
  }
  console.log(table(['counters', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx'], loadRows));
  console.log(
    '\nThe machines here are shared: compare rows of the same run. Per request the gateway ' +
      'sends Redis two commands (one per counter) when it counts there.',
  );
  await redis.close();
}

await main();
