/**
 * The response cache: hits run no SQL and say so; every writer (plain SQL here, as psql would)
 * evicts what it changed on every instance, in memory and with a shared Redis. The tests await
 * the eviction itself (each instance's cache reports when it has evicted for a change), then
 * read: no wall-clock bound, which a loaded machine can overrun, yet a change that evicts
 * nothing, or the wrong entries, still fails on the read that follows.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../src/app.js';
import { accessConfigOf, loadEnv, responseCacheOptionsOf } from '../src/env.js';
import type { ChangeNotice } from '../src/pubsub/changes.js';
import { EventHub } from '../src/pubsub/hub.js';
import { SharedRedis } from '../src/redis.js';
import { createResponseCache, type ResponseCache } from '../src/response-cache.js';
import { schema } from '../src/schema/index.js';
import { createTestDatabase, StatementLog, type TestDatabase } from './helpers/database.js';
import { defaultLimits, executeOn } from './helpers/gateway.js';
import { createKey } from './helpers/keys.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

interface Instance {
  app: App;
  events: EventHub;
  cache: ResponseCache;
  redis: SharedRedis | undefined;
  /** Emits `evicted` with the change once this instance's cache has evicted for it. */
  evictions: EventEmitter;
}

let database: TestDatabase;
const statements = new StatementLog();
const instances: Instance[] = [];

beforeAll(async () => {
  database = await createTestDatabase({ logger: statements });
});
afterAll(async () => {
  for (const { app, events, cache, redis } of instances) {
    await events.close();
    await app.yoga.dispose();
    await cache.close();
    await redis?.close();
  }
  await database?.close();
});

/** One gateway instance over the shared database: its own hub (LISTEN) and cache. */
async function instance(vars: Record<string, string> = {}): Promise<Instance> {
  const events = await EventHub.start(database, { maxQueue: 100 });
  await events.settled();
  // The cache is off by default (TTL 0); these instances turn it on.
  const env = loadEnv({ CHIPGATE_RESPONSE_CACHE_TTL_S: '60', ...vars });
  const redis = env.CHIPGATE_REDIS_URL
    ? await SharedRedis.connect({
        url: env.CHIPGATE_REDIS_URL,
        timeoutMs: env.CHIPGATE_REDIS_TIMEOUT_MS,
        logger: { info() {}, warn() {} },
      })
    : undefined;
  const created = createResponseCache(schema, { ...responseCacheOptionsOf(env), redis });
  if (!created) throw new Error('cache off');
  const evictions = new EventEmitter();
  // The same cache, telling the test when an eviction is done (the app does not await it).
  const cache: ResponseCache = {
    ...created,
    async onChange(change) {
      await created.onChange(change);
      evictions.emit('evicted', change);
    },
  };
  const app = createApp({
    db: database.db,
    events,
    ping: () => database.ping(),
    limits: defaultLimits(),
    corsOrigins: [],
    graphiql: false,
    responseCache: cache,
    access: { config: accessConfigOf(env), redis },
  });
  const made = { app, events, cache, redis, evictions };
  instances.push(made);
  return made;
}

const NAME = /* GraphQL */ `query Name { company(slug: "nvidia") { name } }`;
const COUNT = /* GraphQL */ `query Count { companies { totalCount } }`;

/**
 * Resolves once `on`'s cache has evicted for a change to `table` (its SQL name). Call it before
 * the write: it hears only evictions after the call. Never resolving fails the test at its
 * timeout.
 */
function evictionOf(on: Instance, table: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (change: ChangeNotice) => {
      if (!('table' in change) || change.table !== table) return;
      on.evictions.off('evicted', listener);
      resolve();
    };
    on.evictions.on('evicted', listener);
  });
}

async function name(on: Instance) {
  const result = await executeOn(on.app, NAME);
  expect(result.errors).toBeUndefined();
  return {
    name: result.data?.company.name as string,
    hit: (result.extensions as { responseCache?: { hit: boolean } }).responseCache?.hit,
  };
}

describe.each([
  ['in memory', {}],
  ['shared in Redis', { CHIPGATE_REDIS_URL: REDIS_URL }],
])('response cache (%s)', (label, base) => {
  it('hits run no SQL; a plain SQL UPDATE is seen by both instances once they evicted', async () => {
    const vars: Record<string, string> = {
      ...base,
      CHIPGATE_REDIS_PREFIX: `chipgate-test-${randomBytes(4).toString('hex')}:`,
    };
    const a = await instance(vars);
    const b = await instance(vars);
    const original = (await name(a)).name;
    statements.reset();
    expect(await name(a)).toEqual({ name: original, hit: true });
    expect(statements.count).toBe(0);
    const onB = await name(b);
    expect(onB.name).toBe(original);
    // Shared entries: B hits what A cached; in memory, B caches on its first read.
    expect(onB.hit).toBe(label === 'shared in Redis');
    expect(await name(b)).toEqual({ name: original, hit: true });

    const renamed = `NVIDIA ${randomBytes(3).toString('hex')}`;
    const evicted = [evictionOf(a, 'companies'), evictionOf(b, 'companies')];
    await database.db.execute(sql`update companies set name = ${renamed} where slug = 'nvidia'`);
    await Promise.all(evicted);
    expect(await name(a)).toEqual({ name: renamed, hit: false });
    // In memory B evicted its own entry, so it reads the database; shared in Redis it may hit
    // what A just cached again, or miss if a later notice of the same write evicted that.
    const afterB = await name(b);
    expect(afterB.name).toBe(renamed);
    if (label === 'in memory') expect(afterB.hit).toBe(false);
    await database.db.execute(sql`update companies set name = ${original} where slug = 'nvidia'`);
  });

  it('a list that is only counted is evicted when a row appears', async () => {
    const a = await instance({
      ...base,
      CHIPGATE_REDIS_PREFIX: `chipgate-test-${randomBytes(4).toString('hex')}:`,
    });
    const before = (await executeOn(a.app, COUNT)).data?.companies.totalCount as number;
    expect((await executeOn(a.app, COUNT)).extensions?.responseCache).toEqual({ hit: true });
    const slug = `cache-${randomBytes(3).toString('hex')}`;
    const inserted = evictionOf(a, 'companies');
    await database.db.execute(
      sql`insert into companies (slug, name, country, roles, confidence)
          values (${slug}, 'Cache Test', 'US', '{DESIGNER}', 'RECALLED')`,
    );
    await inserted;
    const afterInsert = await executeOn(a.app, COUNT);
    expect(afterInsert.data?.companies.totalCount).toBe(before + 1);
    expect(afterInsert.extensions?.responseCache).toEqual({
      hit: false,
      didCache: true,
      ttl: 60_000,
    });
    const deleted = evictionOf(a, 'companies');
    await database.db.execute(sql`delete from companies where slug = ${slug}`);
    await deleted;
    const afterDelete = await executeOn(a.app, COUNT);
    expect(afterDelete.data?.companies.totalCount).toBe(before);
    expect(afterDelete.extensions?.responseCache).toEqual({
      hit: false,
      didCache: true,
      ttl: 60_000,
    });
  });
});

describe('what is not cached', () => {
  it('results with errors are not cached', async () => {
    const a = await instance();
    // One field fails (a malformed global id), the other answers: a partial result.
    const partial = '{ company(slug: "nvidia") { slug } node(id: "garbage") { id } }';
    for (let i = 0; i < 2; i++) {
      const result = await executeOn(a.app, partial);
      expect(result.data?.company).toEqual({ slug: 'nvidia' });
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.extensions?.responseCache).toEqual({ hit: false, didCache: false });
    }
  });
});

describe('a hit is still an authenticated, counted request', () => {
  it('a bad key gets 401 UNAUTHENTICATED for a document that is cached', async () => {
    const a = await instance();
    await executeOn(a.app, NAME);
    expect((await executeOn(a.app, NAME)).extensions?.responseCache).toEqual({ hit: true });
    const refused = await executeOn(a.app, NAME, undefined, {
      authorization: 'Bearer cg_live_not-a-key',
    });
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(refused.data).toBeUndefined();
  });
});

describe('what a hit never skips', () => {
  it('a mutation is never served from the cache, to its caller or to anyone else', async () => {
    const a = await instance();
    const key = await createKey(database.db, ['write'], 'cache-writer');
    const update = /* GraphQL */ `mutation {
      updatePolicyDecisionStatus(input: { slug: "no-such-decision", status: IN_EFFECT }) {
        __typename
      }
    }`;
    for (let i = 0; i < 2; i++) {
      const result = await executeOn(a.app, update, undefined, key.headers);
      expect(result.data?.updatePolicyDecisionStatus).toEqual({ __typename: 'NotFoundError' });
      expect(result.extensions?.responseCache).toBeUndefined();
    }
    // Anonymous callers may not write: they are refused, not answered from the writer's result.
    const anonymous = await executeOn(a.app, update);
    expect(anonymous.data?.updatePolicyDecisionStatus).toBeUndefined();
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('introspection answered to a key is not served to an anonymous caller from the cache', async () => {
    const a = await instance({ CHIPGATE_INTROSPECTION: 'keys' });
    const key = await createKey(database.db, ['read'], 'cache-introspection');
    const query = '{ __type(name: "Company") { name } }';
    const keyed = await executeOn(a.app, query, undefined, key.headers);
    expect(keyed.data).toEqual({ __type: { name: 'Company' } });
    expect(keyed.extensions?.responseCache).toBeUndefined();
    const anonymous = await executeOn(a.app, query);
    expect(anonymous.data).toBeUndefined();
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('If-None-Match with a bad key is 401, not 304', async () => {
    const a = await instance();
    const response = await a.app.yoga.fetch('http://chipgate.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: NAME }),
    });
    const etag = response.headers.get('etag');
    expect(etag).toBeTruthy();
    const revalidated = await a.app.yoga.fetch('http://chipgate.test/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'if-none-match': etag as string,
        authorization: 'Bearer cg_live_not-a-key',
      },
      body: JSON.stringify({ query: NAME }),
    });
    expect(revalidated.status).toBe(401);
  });
});
