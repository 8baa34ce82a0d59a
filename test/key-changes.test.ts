/**
 * A change to an API key reaches what the key holds open, on every instance: revoked, its SSE
 * subscriptions end with an `UNAUTHENTICATED` error and complete, its WebSocket connections close
 * with 4403; a lowered subscription limit ends the newest subscriptions over it; persisted-only
 * ends the subscriptions that are not trusted documents; scopes apply to the next operation.
 * Other callers keep streaming.
 *
 * PostgreSQL: two gateways on one database and one Redis, changes made by the CLI
 * (`runCli`, its own connection) and by plain SQL. PGlite (one process holds the directory): one
 * gateway, changes made by the CLI's command on the gateway's own handle and by SQL there.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { documentHash } from '../src/access/documents.js';
import { runCli } from '../src/cli.js';
import { type KeysCommand, parseKeysCommand, runKeysCommand } from '../src/cli-keys.js';
import { insertTrustedDocuments } from '../src/db/trusted-documents.js';
import { backend } from './helpers/database.js';
import { createKey, type TestKey } from './helpers/keys.js';
import { UPDATES } from './helpers/queries.js';
import { redisVars } from './helpers/redis.js';
import {
  type GatewayDatabase,
  gatewayDatabase,
  type InProcessGateway,
  removeTempDirs,
  startInProcessGateway,
} from './helpers/server.js';
import {
  subscribeSse,
  subscribeWs,
  type TestSubscription,
  wsClient,
} from './helpers/subscribers.js';
import { setStatus } from './helpers/writes.js';

const onServer = backend === 'postgres';
/** The promise: a committed change reaches every instance within 5 s (it takes milliseconds). */
const WITHIN_MS = 5_000;

let database: GatewayDatabase;
let a: InProcessGateway;
/** The instances: A, and B on PostgreSQL. */
let instances: InProcessGateway[];
const clients: ReturnType<typeof wsClient>[] = [];

beforeAll(async () => {
  database = await gatewayDatabase();
  const shared = redisVars();
  a = await startInProcessGateway(shared, undefined, database);
  instances = onServer ? [a, await startInProcessGateway(shared, undefined, database)] : [a];
});
afterAll(async () => {
  for (const client of clients) await client.dispose();
  for (const gateway of instances ?? []) await gateway.stop();
  await database?.cleanup();
  removeTempDirs();
});

/** The last instance: B on PostgreSQL (the one the CLI's change did not come near), else A. */
const other = () => instances[instances.length - 1] as InProcessGateway;
/** A SQL writer on the gateways' database. */
const db = () => a.running.db.db;

/**
 * `keys ...` through the CLI's code: the whole command line on its own connection (PostgreSQL),
 * or its command on the gateway's handle (PGlite allows one process per directory).
 */
async function keys(...args: string[]): Promise<string[]> {
  const out: string[] = [];
  const err: string[] = [];
  const code = onServer
    ? await runCli(
        ['keys', ...args],
        { DATABASE_URL: database.env.DATABASE_URL },
        (line) => out.push(line),
        (line) => err.push(line),
      )
    : await runKeysCommand(
        db(),
        parseKeysCommand(args) as KeysCommand,
        (line) => out.push(line),
        (line) => err.push(line),
      );
  expect(code, err.join('\n')).toBe(0);
  return out;
}

/** A graphql-ws client on `gateway` presenting `key` (closed after the file). */
function socket(gateway: InProcessGateway, key: TestKey) {
  const client = wsClient(gateway.url, { authorization: key.headers.authorization });
  clients.push(client);
  return client;
}

/** Resolves with what `promise` gave, and how long it took, or fails after `WITHIN_MS`. */
async function timed<T>(promise: Promise<T>, since: number): Promise<{ value: T; ms: number }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${WITHIN_MS} ms`)), WITHIN_MS);
  });
  try {
    const value = await Promise.race([promise, late]);
    return { value, ms: Date.now() - since };
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until every instance registered what `key` holds there. */
async function registered(
  key: TestKey,
  expected: { subscriptions: number; connections: number }[],
): Promise<void> {
  await vi.waitFor(() =>
    expect(instances.map((gateway) => gateway.running.access.sessions.held(key.id))).toEqual(
      expected,
    ),
  );
}

/** A status change every open subscription of UPDATES receives. */
let statuses = 0;
async function nextEvent(): Promise<void> {
  statuses += 1;
  await setStatus(
    db(),
    'us-whitehouse-2025-12-08-h200-approval',
    statuses % 2 ? 'SUSPENDED' : 'IN_EFFECT',
    `key changes ${statuses}`,
  );
}

/** The last result a subscription received. */
const lastOf = (subscription: TestSubscription) => subscription.results.at(-1);

describe('a revoked key', () => {
  it('loses its subscriptions on every instance within 5 s: SSE gets UNAUTHENTICATED and completes, WebSocket closes with 4403; others keep streaming', async () => {
    const revoked = await createKey(db(), ['read'], 'revoked while streaming');
    const stays = await createKey(db(), ['read'], 'keeps streaming');
    const held = await Promise.all(
      instances.map(async (gateway) => {
        const client = socket(gateway, revoked);
        return {
          sse: await subscribeSse(gateway.url, UPDATES, {}, revoked.headers),
          client,
          ws: subscribeWs(client, UPDATES),
        };
      }),
    );
    const bystanders = [
      await subscribeSse(other().url, UPDATES, {}, stays.headers),
      await subscribeSse(a.url, UPDATES),
    ];
    await registered(
      revoked,
      instances.map(() => ({ subscriptions: 2, connections: 1 })),
    );

    expect(await keys('revoke', String(revoked.id))).toEqual([`Revoked API key ${revoked.id}.`]);
    const since = Date.now(); // the change is committed
    const took: number[] = [];
    for (const { sse, client, ws } of held) {
      took.push((await timed(sse.waitForComplete(WITHIN_MS), since)).ms);
      expect(sse.completedCleanly).toBe(true);
      expect(lastOf(sse)).toEqual({
        errors: [
          { message: 'The API key has been revoked.', extensions: { code: 'UNAUTHENTICATED' } },
        ],
      });
      const closed = await timed(client.closed, since);
      took.push(closed.ms);
      expect(closed.value.code).toBe(4403);
      await ws.waitForComplete();
      expect(ws.completedCleanly).toBe(false);
    }
    console.log(`revocation reached every subscription in ${Math.max(...took)} ms`);

    await registered(
      revoked,
      instances.map(() => ({ subscriptions: 0, connections: 0 })),
    );
    await vi.waitFor(async () =>
      expect(await a.running.access.slots.active(`key:${revoked.id}`)).toBe(0),
    );
    const again = await subscribeSse(a.url, UPDATES, {}, revoked.headers);
    await again.waitForComplete();
    expect(again.status).toBe(401);

    await nextEvent();
    for (const bystander of bystanders) {
      const [result] = await bystander.waitForResults(1);
      expect(result?.data?.policyDecisionUpdated.note).toBe(`key changes ${statuses}`);
      expect(bystander.completed).toBe(false);
      await bystander.close();
    }
  });

  it('by plain SQL: its WebSocket connections close with 4403', async () => {
    const key = await createKey(db(), ['read'], 'revoked by SQL');
    const client = socket(other(), key);
    const subscription = subscribeWs(client, UPDATES);
    await vi.waitFor(() =>
      expect(other().running.access.sessions.held(key.id)).toEqual({
        subscriptions: 1,
        connections: 1,
      }),
    );
    const since = Date.now();
    await db().execute(sql`update api_keys set revoked_at = now() where id = ${key.id}`);
    const closed = await timed(client.closed, since);
    expect(closed.value.code).toBe(4403);
    await subscription.waitForComplete();
  });
});

describe('the change feed', () => {
  it('announces a change of a key, not the refresh of its last_used_at', async () => {
    const key = await createKey(db(), ['read'], 'touched');
    const heard: unknown[] = [];
    const stop = other().running.events.onChange((change) => heard.push(change));
    try {
      await db().execute(sql`update api_keys set last_used_at = now() where id = ${key.id}`);
      await other().running.events.fence();
      expect(heard).toEqual([]);
      await db().execute(sql`update api_keys set name = 'renamed' where id = ${key.id}`);
      await other().running.events.fence();
      expect(heard).toEqual([
        { table: 'api_keys', op: 'UPDATE', keys: { api_keys: [String(key.id)] } },
      ]);
    } finally {
      stop();
    }
  });
});

describe('a key whose limits change', () => {
  it('--max-subscriptions lowered: the newest over the limit end with RATE_LIMITED on every instance; the oldest streams on', async () => {
    const key = await createKey(db(), ['read'], 'three, then one');
    await keys('update', String(key.id), '--max-subscriptions', '3');
    const slots = () => a.running.access.slots.active(`key:${key.id}`);
    const oldest = await subscribeSse(a.url, UPDATES, {}, key.headers);
    await vi.waitFor(async () => expect(await slots()).toBe(1));
    const client = socket(other(), key);
    const middle = subscribeWs(client, UPDATES);
    await vi.waitFor(async () => expect(await slots()).toBe(2));
    const newest = await subscribeSse(other().url, UPDATES, {}, key.headers);
    await vi.waitFor(async () => expect(await slots()).toBe(3));

    await keys('update', String(key.id), '--max-subscriptions', '1');
    const since = Date.now(); // the change is committed
    const refusal = {
      errors: [
        {
          message: 'This API key may hold 1 subscriptions at once; close one first.',
          extensions: {
            code: 'RATE_LIMITED',
            rateLimit: { limit: 1, remaining: 0, resetAt: null, reason: 'SUBSCRIPTIONS' },
          },
        },
      ],
    };
    for (const ended of [middle, newest]) {
      await timed(ended.waitForComplete(WITHIN_MS), since);
      expect(ended.completedCleanly).toBe(true);
      expect(lastOf(ended)).toEqual(refusal);
    }
    await vi.waitFor(async () => expect(await slots()).toBe(1));
    await nextEvent();
    const [result] = await oldest.waitForResults(1);
    expect(result?.data?.policyDecisionUpdated.note).toBe(`key changes ${statuses}`);
    expect(oldest.completed).toBe(false);
    // The socket stays open: its next operation runs under the new limit.
    const query = subscribeWs(client, '{ viewer { limits { maxSubscriptions } } }');
    expect(await query.waitForResults(1)).toEqual([
      { data: { viewer: { limits: { maxSubscriptions: 1 } } } },
    ]);
    await oldest.close();
  });

  it('--persisted-only: subscriptions by query text end with PERSISTED_QUERY_ONLY; a trusted document streams on', async () => {
    const key = await createKey(db(), ['read'], 'becomes persisted-only');
    const hash = documentHash(UPDATES);
    await insertTrustedDocuments(db(), [{ hash, document: UPDATES, cost: null }], key.id);
    const trusted = await subscribeSse(a.url, { documentId: hash }, {}, key.headers);
    const text = await subscribeSse(other().url, UPDATES, {}, key.headers);
    const overSocket = subscribeWs(socket(a, key), UPDATES);
    await registered(
      key,
      onServer
        ? [
            { subscriptions: 2, connections: 1 },
            { subscriptions: 1, connections: 0 },
          ]
        : [{ subscriptions: 3, connections: 1 }],
    );

    await keys('update', String(key.id), '--persisted-only');
    const since = Date.now(); // the change is committed
    for (const ended of [text, overSocket]) {
      await timed(ended.waitForComplete(WITHIN_MS), since);
      expect(lastOf(ended)?.errors?.map((error) => error.extensions?.code)).toEqual([
        'PERSISTED_QUERY_ONLY',
      ]);
    }
    await nextEvent();
    const [result] = await trusted.waitForResults(1);
    expect(result?.data?.policyDecisionUpdated.note).toBe(`key changes ${statuses}`);
    expect(trusted.completed).toBe(false);
    await trusted.close();
  });

  it('scopes (SQL): open subscriptions stay; the next operation on the socket has the new scopes', async () => {
    const key = await createKey(db(), ['read', 'write'], 'loses write');
    const client = socket(other(), key);
    const subscription = subscribeWs(client, UPDATES);
    const write = /* GraphQL */ `mutation {
      updatePolicyDecisionStatus(input: { slug: "no-such-decision", status: IN_EFFECT }) { __typename }
    }`;
    expect(await subscribeWs(client, write).waitForResults(1)).toEqual([
      { data: { updatePolicyDecisionStatus: { __typename: 'NotFoundError' } } },
    ]);
    await db().execute(sql`update api_keys set scopes = '{read}' where id = ${key.id}`);
    await vi.waitFor(async () => {
      const [result] = await subscribeWs(client, write).waitForResults(1);
      expect(result?.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    });
    await nextEvent();
    const [result] = await subscription.waitForResults(1);
    expect(result?.data?.policyDecisionUpdated.note).toBe(`key changes ${statuses}`);
    expect(subscription.completed).toBe(false);
  });
});
