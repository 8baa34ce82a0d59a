/**
 * Partner access over real sockets: concurrent subscriptions over SSE and WebSocket together,
 * APQ with Apollo Client's persisted-queries link, anonymous limits per client address behind
 * a trusted proxy. (Two processes sharing Redis: partners-redis.test.ts.)
 */
import { createHash } from 'node:crypto';
import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientAddress } from '../src/access/plugin.js';
import { createKey, type TestKey } from './helpers/keys.js';
import { UPDATES } from './helpers/queries.js';
import {
  clearOfMinuteBoundary,
  type InProcessGateway,
  postGraphQL,
  removeTempDirs,
  startInProcessGateway,
} from './helpers/server.js';
import { subscribeSse, subscribeWs, wsClient } from './helpers/subscribers.js';

let gateway: InProcessGateway;
let twoSubscriptions: TestKey;
beforeAll(async () => {
  gateway = await startInProcessGateway({
    CHIPGATE_TRUST_PROXY: '1',
    CHIPGATE_ANON_RATE_LIMIT: '2',
  });
  const db = gateway.running.db.db;
  twoSubscriptions = await createKey(db, ['read'], 'two subscriptions');
  await db.execute(
    sql`update api_keys set max_subscriptions = 2 where id = ${twoSubscriptions.id}`,
  );
});
afterAll(async () => {
  await gateway?.stop();
  removeTempDirs();
});

describe('concurrent subscriptions', () => {
  it('--max-subscriptions 2: a third (any transport) is RATE_LIMITED; closing one frees a slot', async () => {
    const subject = `key:${twoSubscriptions.id}`;
    const active = () => gateway.running.access.slots.active(subject);
    const sse = await subscribeSse(gateway.url, UPDATES, {}, twoSubscriptions.headers);
    expect(sse.status).toBe(200);
    const client = wsClient(gateway.url, { authorization: twoSubscriptions.headers.authorization });
    const ws = subscribeWs(client, UPDATES);
    await vi.waitFor(async () => expect(await active()).toBe(2));

    // Third over WebSocket: the operation gets an error, the socket stays open.
    const thirdWs = subscribeWs(client, UPDATES);
    await thirdWs.waitForComplete();
    expect(thirdWs.results).toEqual([
      {
        errors: [
          expect.objectContaining({
            message: 'This API key may hold 2 subscriptions at once; close one first.',
            extensions: {
              code: 'RATE_LIMITED',
              rateLimit: { limit: 2, remaining: 0, resetAt: null, reason: 'SUBSCRIPTIONS' },
            },
          }),
        ],
      },
    ]);
    // Third over SSE.
    const thirdSse = await subscribeSse(gateway.url, UPDATES, {}, twoSubscriptions.headers);
    await thirdSse.waitForComplete();
    expect(thirdSse.status).toBe(429);
    expect(thirdSse.results.flatMap((r) => r.errors ?? []).map((e) => e.extensions?.code)).toEqual([
      'RATE_LIMITED',
    ]);

    await sse.close();
    await vi.waitFor(async () => expect(await active()).toBe(1));
    const again = subscribeWs(client, UPDATES);
    await vi.waitFor(async () => expect(await active()).toBe(2));
    expect(again.completed).toBe(false);
    await again.close();
    await ws.close();
    await vi.waitFor(async () => expect(await active()).toBe(0));
    await client.dispose();
  });
});

describe('persisted-only keys over WebSocket', () => {
  it('cannot run query text there either', async () => {
    const db = gateway.running.db.db;
    const key = await createKey(db, ['read'], 'persisted only, socket');
    await db.execute(sql`update api_keys set persisted_only = true where id = ${key.id}`);
    const client = wsClient(gateway.url, { authorization: key.headers.authorization });
    const text = subscribeWs(client, '{ company(slug: "nvidia") { name } }');
    await text.waitForComplete();
    expect(text.results.flatMap((r) => r.errors ?? []).map((e) => e.extensions?.code)).toEqual([
      'PERSISTED_QUERY_ONLY',
    ]);
    expect(text.results.some((r) => r.data)).toBe(false);
    await client.dispose();
  });
});

describe('automatic persisted queries', () => {
  it("Apollo Client's persisted-queries link: miss, register, hit", async () => {
    const sent: { body: any; status: number; code?: string }[] = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const copy = (await response.clone().json()) as any;
      sent.push({
        body: JSON.parse(String(init?.body)),
        status: response.status,
        code: copy.errors?.[0]?.extensions?.code,
      });
      return response;
    };
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const client = new ApolloClient({
      link: new PersistedQueryLink({ sha256 }).concat(
        // A key: anonymous callers of this gateway may send 2 requests a minute.
        new HttpLink({
          uri: gateway.url,
          fetch: recordingFetch,
          headers: twoSubscriptions.headers,
        }),
      ),
      cache: new InMemoryCache(),
    });
    const query = gql`query ApqChip($slug: String!) { chip(slug: $slug) { slug name } }`;
    const first = await client.query({
      query,
      variables: { slug: 'h200' },
      fetchPolicy: 'no-cache',
    });
    expect(first.data).toEqual({
      chip: { __typename: 'Chip', slug: 'h200', name: 'NVIDIA H200 (SXM)' },
    });
    const second = await client.query({
      query,
      variables: { slug: 'h20' },
      fetchPolicy: 'no-cache',
    });
    expect((second.data as any).chip.slug).toBe('h20');

    expect(sent.map(({ status, code, body }) => [status, code, 'query' in body])).toEqual([
      [404, 'PERSISTED_QUERY_NOT_FOUND', false], // miss: the hash alone
      [200, undefined, true], // register: query and hash
      [200, undefined, false], // hit: the hash alone
    ]);
    const hash = sent[0]?.body.extensions.persistedQuery.sha256Hash;
    expect(sent[2]?.body.extensions.persistedQuery.sha256Hash).toBe(hash);
    client.stop();
  });

  it('answers a miss with the message Apollo clients expect', async () => {
    const miss = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.9.9.9' },
      body: JSON.stringify({
        extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } },
      }),
    });
    expect(miss.status).toBe(404);
    expect(((await miss.json()) as any).errors).toEqual([
      { message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } },
    ]);
  });
});

describe('anonymous callers', () => {
  it('are limited per client address (X-Forwarded-For behind CHIPGATE_TRUST_PROXY=1)', async () => {
    await clearOfMinuteBoundary();
    const from = (address: string) =>
      postGraphQL(gateway.url, '{ company(slug: "nvidia") { name } }', undefined, {
        'x-forwarded-for': `203.0.113.66, ${address}`,
      });
    expect((await from('198.51.100.1')).status).toBe(200);
    expect((await from('198.51.100.1')).status).toBe(200);
    const third = await from('198.51.100.1');
    expect(third.status).toBe(429);
    expect(third.body.errors[0].message).toMatch(
      /^Anonymous callers from this address may send 2 requests per minute/,
    );
    // Another client (the spoofable left-most entry is ignored) has its own budget.
    const other = await from('198.51.100.2');
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit-limit')).toBe('2');
    expect(other.headers.get('ratelimit-remaining')).toBe('1');
  });

  it('takes the address from X-Forwarded-For only as far as the trusted proxies reach', () => {
    expect(clientAddress('10.0.0.5', '1.1.1.1, 2.2.2.2', 0)).toBe('10.0.0.5');
    expect(clientAddress('10.0.0.5', '1.1.1.1, 2.2.2.2', 1)).toBe('2.2.2.2');
    expect(clientAddress('10.0.0.5', '1.1.1.1, 2.2.2.2', 2)).toBe('1.1.1.1');
    expect(clientAddress('10.0.0.5', '1.1.1.1, 2.2.2.2', 5)).toBe('1.1.1.1');
    expect(clientAddress('10.0.0.5', null, 1)).toBe('10.0.0.5');
  });
});
