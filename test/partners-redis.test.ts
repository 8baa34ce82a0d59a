/**
 * Two gateway processes sharing one Redis enforce one budget per key (the shared Redis on
 * 127.0.0.1:6379, under a key prefix of this run). With Redis gone they keep answering (each
 * counting on its own) and say so in the log; with Redis back the budget is shared again: that
 * Redis is this test's own, on a spare port, since stopping the shared one would disturb others.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../src/auth.js';
import { insertApiKey } from '../src/db/api-keys.js';
import { openDatabase } from '../src/db/client.js';
import {
  type ChildGateway,
  freePort,
  type GatewayDatabase,
  gatewayDatabase,
  killChildren,
  postGraphQL,
  removeTempDirs,
  startChildGateway,
} from './helpers/server.js';

const READ = '{ company(slug: "nvidia") { name } }';

/** A redis-server of this test; resolves once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    server.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  return server;
}

async function stopRedis(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGKILL');
  await exited;
}

/** The same keys (same secrets, so the same ids) in one gateway database. */
async function addKeys(
  env: Record<string, string>,
  keys: ReturnType<typeof generateKey>[],
  limits: number[],
) {
  const handle = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    pgliteDir: env.CHIPGATE_PGLITE_DIR,
    poolMax: 2,
  });
  try {
    const ids: number[] = [];
    for (const [i, key] of keys.entries()) {
      const id = await insertApiKey(handle.db, { name: `shared ${i}`, ...key, scopes: ['read'] });
      await handle.db.execute(sql`update api_keys set rate_limit = ${limits[i]} where id = ${id}`);
      ids.push(id);
    }
    return ids;
  } finally {
    await handle.close();
  }
}

let redis: ChildProcess | undefined;
let redisPort: number;
const databases: GatewayDatabase[] = [];
let a: ChildGateway;
let b: ChildGateway;
let c: ChildGateway;
let d: ChildGateway;
// Per sequence two keys, the second for when the minute turns mid-way: 6 a minute (shared
// budget), 2 a minute (during the outage), 2 a minute (Redis back).
const keys = Array.from({ length: 6 }, () => generateKey());
const LIMITS = [6, 6, 2, 2, 2, 2];
const auth = (i: number) => ({ authorization: `Bearer ${keys[i]?.key}` });

/**
 * Sends READ through each gateway in turn with key `key`, else (when the minute turned during
 * the sequence) again with `fallback`; returns [status, RateLimit-Remaining] per request.
 */
async function sequence(gateways: ChildGateway[], key: number, fallback: number) {
  let seen: { status: number; remaining: string | null; reset: number }[] = [];
  for (const k of [key, fallback]) {
    seen = [];
    for (const gateway of gateways) {
      const { status, headers } = await postGraphQL(gateway.url, READ, undefined, auth(k));
      seen.push({
        status,
        remaining: headers.get('ratelimit-remaining'),
        reset: Number(headers.get('ratelimit-reset')),
      });
    }
    if (!seen.some((s, i) => i > 0 && s.reset > (seen[i - 1]?.reset ?? 0))) break;
  }
  return seen.map((s) => [s.status, s.remaining]);
}

/** Two gateways (on the run's backend, with the same keys) sharing the Redis at `url`. */
async function pairOn(url: string): Promise<[ChildGateway, ChildGateway]> {
  const first = await gatewayDatabase();
  databases.push(first);
  // PostgreSQL: both gateways share one database. PGlite: one directory each, same keys.
  const second = first.env.DATABASE_URL ? first : await gatewayDatabase();
  if (second !== first) databases.push(second);
  for (const database of new Set([first, second])) await addKeys(database.env, keys, LIMITS);
  const shared = {
    CHIPGATE_REDIS_URL: url,
    // Test runs of other branches use the same shared Redis: keys of our own.
    CHIPGATE_REDIS_PREFIX: `chipgate-test-${randomBytes(6).toString('hex')}:`,
  };
  return Promise.all([
    startChildGateway({ ...first.env, ...shared }),
    startChildGateway({ ...second.env, ...shared }),
  ]);
}

afterAll(async () => {
  await killChildren();
  if (redis) await stopRedis(redis);
  for (const database of databases) await database.cleanup();
  removeTempDirs();
});

describe('two gateways on the shared Redis (127.0.0.1:6379)', () => {
  beforeAll(async () => {
    [a, b] = await pairOn('redis://127.0.0.1:6379');
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
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    [c, d] = await pairOn(`redis://127.0.0.1:${redisPort}`);
  }, 180_000);

  it('Redis stopped: both keep answering and log it; Redis back: the budget is shared again', async () => {
    if (!redis) throw new Error('no redis');
    await stopRedis(redis);
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

    redis = await startRedis(redisPort);
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
