/**
 * Partner limits, in process: per-key request and cost limits (an injected clock moves the
 * windows), `Query.viewer`, keys created and updated with limits, usage stored by flushes and
 * printed by `keys usage`. Trusted documents and introspection control are in
 * partners-documents.test.ts; transports (subscriptions, APQ with Apollo's client, Redis shared
 * by two processes) in partners-transport.test.ts.
 */
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client.js';
import type { RateLimitReason } from '../src/errors.js';
import { describe, expect } from './helpers/fixtures.js';
import { accessConfig } from './helpers/gateway.js';
import { createKey } from './helpers/keys.js';
import { nonAuthStatements, post, READ, test } from './helpers/partners.js';
import { NESTED_QUERY } from './helpers/queries.js';

/** The injected clock: 2026-03-02T10:00:30Z, 30 s into a window. */
let now = Date.parse('2026-03-02T10:00:30Z');
const refused: { keyId: number | null; reason: RateLimitReason }[] = [];

test.override('gatewayOptions', {
  access: {
    config: accessConfig({ CHIPGATE_INTROSPECTION: 'keys' }),
    clock: () => now,
    onRefused: (event) => refused.push(event),
  },
});

describe('requests per minute', () => {
  test('the 6th request of a 5/min key is a 429 with Retry-After and nothing executed', async ({
    gateway,
    limited,
  }) => {
    refused.length = 0;
    for (let i = 1; i <= 5; i++) {
      const ok = await post(gateway, { query: READ }, limited.headers);
      expect(ok.status).toBe(200);
      expect(ok.body.data.company.name).toBe('NVIDIA Corporation');
      expect(ok.headers.get('ratelimit-limit')).toBe('5');
      expect(ok.headers.get('ratelimit-remaining')).toBe(String(5 - i));
      expect(ok.headers.get('ratelimit-reset')).toBe('30');
    }
    gateway.statements.reset();
    const sixth = await post(gateway, { query: READ }, limited.headers);
    expect(sixth.status).toBe(429);
    expect(sixth.headers.get('retry-after')).toBe('30');
    expect(sixth.headers.get('ratelimit-remaining')).toBe('0');
    expect(sixth.body.data).toBeUndefined();
    expect(sixth.body.errors).toEqual([
      {
        message: 'This API key may send 5 requests per minute; retry after 30 s.',
        extensions: {
          code: 'RATE_LIMITED',
          rateLimit: {
            limit: 5,
            remaining: 0,
            resetAt: '2026-03-02T10:01:00.000Z',
            reason: 'REQUESTS',
          },
        },
      },
    ]);
    // Authentication read the key; the operation ran no SQL.
    expect(nonAuthStatements(gateway)).toEqual([]);
    expect(refused).toEqual([{ keyId: limited.id, reason: 'REQUESTS' }]);
  });

  test('a second key is unaffected, and the first works again after the reset', async ({
    gateway,
    limited,
    other,
  }) => {
    const fine = await post(gateway, { query: READ }, other.headers);
    expect(fine.status).toBe(200);
    expect(fine.headers.get('ratelimit-limit')).toBe('1000000');
    expect((await post(gateway, { query: READ }, limited.headers)).status).toBe(429);
    now += 30_000; // 10:01:00, the next window
    const again = await post(gateway, { query: READ }, limited.headers);
    expect(again.status).toBe(200);
    expect(again.body.data.company.name).toBe('NVIDIA Corporation');
    expect(again.headers.get('ratelimit-remaining')).toBe('4');
    expect(again.headers.get('ratelimit-reset')).toBe('60');
  });
});

describe('query cost per minute', () => {
  test('the second reference query over the cost limit is refused before any SQL', async ({
    gateway,
    costly,
  }) => {
    refused.length = 0;
    const first = await post(
      gateway,
      { query: NESTED_QUERY, variables: { first: 50 } },
      costly.headers,
    );
    expect(first.status).toBe(200);
    expect(first.body.data.companies.edges).toHaveLength(15);
    gateway.statements.reset();
    const second = await post(
      gateway,
      { query: NESTED_QUERY, variables: { first: 50 } },
      costly.headers,
    );
    expect(second.status).toBe(429);
    expect(second.body.data).toBeUndefined();
    const [error] = second.body.errors;
    expect(error.extensions).toEqual({
      code: 'RATE_LIMITED',
      rateLimit: {
        limit: 60000,
        remaining: 60000 - 47351,
        resetAt: '2026-03-02T10:02:00.000Z',
        reason: 'COST',
      },
    });
    expect(second.headers.get('retry-after')).toBe('60');
    expect(nonAuthStatements(gateway)).toEqual([]);
    expect(refused).toEqual([{ keyId: costly.id, reason: 'COST' }]);
    // A smaller query still fits the rest of the budget: the refused cost was not counted.
    const small = await post(
      gateway,
      { query: NESTED_QUERY, variables: { first: 1 } },
      costly.headers,
    );
    expect(small.status).toBe(200);
  });
});

describe('Query.viewer', () => {
  test('shows the key, its limits and this minute of usage; null when anonymous', async ({
    gateway,
  }) => {
    now = Date.parse('2026-03-02T10:05:10Z');
    const key = await createKey(gateway.database.db, ['read', 'write'], 'viewer test');
    await gateway.database.db.execute(
      sql`update api_keys set cost_limit = 9000, max_subscriptions = 3, persisted_only = false where id = ${key.id}`,
    );
    await post(gateway, { query: READ }, key.headers); // cost 2
    await post(gateway, { query: '{ chips(first: 3) { edges { node { slug } } } }' }, key.headers); // 1 + 3*3
    const VIEWER = /* GraphQL */ `{
      viewer {
        key { id name scopes createdAt lastUsedAt }
        limits { requestsPerMinute costPerMinute maxSubscriptions persistedOnly }
        usage { windowStart requests cost activeSubscriptions }
      }
    }`;
    const { status, body } = await post(gateway, { query: VIEWER }, key.headers);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const viewer = body.data.viewer;
    expect(viewer.key).toMatchObject({
      id: String(key.id),
      name: 'viewer test',
      scopes: ['READ', 'WRITE'],
    });
    expect(Date.parse(viewer.key.createdAt)).not.toBeNaN();
    expect(viewer.limits).toEqual({
      requestsPerMinute: 1000000,
      costPerMinute: 9000,
      maxSubscriptions: 3,
      persistedOnly: false,
    });
    // Three requests (this one included) and their costs: 2, 10 and this query's 17 fields.
    expect(viewer.usage).toEqual({
      windowStart: '2026-03-02T10:05:00.000Z',
      requests: 3,
      cost: 2 + 10 + 17,
      activeSubscriptions: 0,
    });
    const anonymous = await post(gateway, { query: '{ viewer { key { id } } }' });
    expect(anonymous.body).toEqual({ data: { viewer: null } });
  });
});

describe('keys create and update with limits', () => {
  test("stores a key's own limits, changes them, and returns one to the default", async ({
    gateway,
  }) => {
    const { parseKeysCommand, runKeysCommand } = await import('../src/cli-keys.js');
    const db = gateway.database.db;
    const run = async (...args: string[]) => {
      const parsed = parseKeysCommand(args);
      if (typeof parsed === 'string') throw new Error(parsed);
      const out: string[] = [];
      expect(
        await runKeysCommand(
          db,
          parsed,
          (l) => out.push(l),
          () => {},
        ),
      ).toBe(0);
      return out;
    };
    const created = await run(
      'create',
      '--name',
      'limited partner',
      '--scope',
      'read',
      '--rate-limit',
      '600',
      '--cost-limit',
      '2000000',
      '--max-subscriptions',
      '20',
      '--persisted-only',
    );
    expect(created[0]).toMatch(
      /^Created API key (\d+) "limited partner" \(scopes: read\) with rate limit 600\/min, cost limit 2000000\/min, max subscriptions 20, persisted-only\./,
    );
    const id = Number(/API key (\d+)/.exec(created[0] ?? '')?.[1]);
    const row = async () =>
      (
        await queryRows<Record<string, unknown>>(
          db,
          sql`select rate_limit, cost_limit, max_subscriptions, persisted_only from api_keys where id = ${id}`,
        )
      )[0];
    expect(await row()).toEqual({
      rate_limit: 600,
      cost_limit: 2000000,
      max_subscriptions: 20,
      persisted_only: true,
    });
    expect(
      await run(
        'update',
        String(id),
        '--rate-limit',
        'default',
        '--no-persisted-only',
        '--max-subscriptions',
        '0',
      ),
    ).toEqual([`Updated API key ${id}: rate limit default, max subscriptions 0, any operation.`]);
    expect(await row()).toEqual({
      rate_limit: null,
      cost_limit: 2000000,
      max_subscriptions: 0,
      persisted_only: false,
    });
    const listed = await run('list');
    expect(listed.find((l) => l.includes('limited partner'))).toMatch(
      /\s+default\s+2000000\s+0\s+no$/,
    );
  });
});

describe('usage', () => {
  test('is stored by a flush, not per request, and `keys usage` prints it per day', async ({
    gateway,
  }) => {
    now = Date.parse('2026-03-03T08:00:00Z');
    const key = await createKey(gateway.database.db, ['read'], 'usage test');
    await gateway.app.access.usage.flush();
    gateway.statements.reset();
    await post(gateway, { query: READ }, key.headers);
    await post(gateway, { query: '{ company(slug: "nvidia") { nope } }' }, key.headers); // an error
    await post(gateway, { query: '{ chips(first: 2) { edges { node { slug } } } }' }, key.headers);
    expect(gateway.statements.statements.filter((s) => /api_key_usage/.test(s))).toEqual([]);
    await gateway.app.access.usage.flush();
    const rows = await queryRows<{ day: string; requests: number; cost: number; errors: number }>(
      gateway.database.db,
      sql`select day::text, requests::int, cost::int, errors::int from api_key_usage where api_key_id = ${key.id}`,
    );
    expect(rows).toEqual([{ day: '2026-03-03', requests: 3, cost: 2 + 7, errors: 1 }]);
    const lines: string[] = [];
    const { runKeysCommand } = await import('../src/cli-keys.js');
    const code = await runKeysCommand(
      gateway.database.db,
      { action: 'usage', id: key.id, days: 3650 },
      (line) => lines.push(line),
      () => {},
    );
    expect(code).toBe(0);
    expect(lines).toEqual(['DAY         REQUESTS  COST  ERRORS', '2026-03-03  3         9     1']);
  });
  test("of a key deleted before the flush is dropped, logged once; the other keys' is written", async ({
    gateway,
  }) => {
    const { UsageRecorder } = await import('../src/access/usage.js');
    const db = gateway.database.db;
    const kept = await createKey(db, ['read'], 'usage kept');
    const deleted = await createKey(db, ['read'], 'usage deleted');
    const warnings: { object: object; message: string }[] = [];
    const usage = new UsageRecorder(db, () => Date.parse('2026-03-04T09:00:00Z'), {
      warn: (object, message) => warnings.push({ object, message }),
    });
    usage.record(kept.id, { requests: 1, cost: 5 });
    usage.record(deleted.id, { requests: 1, cost: 7 });
    usage.record(kept.id, { requests: 1, cost: 2, errors: 1 });
    await db.execute(sql`delete from api_keys where id = ${deleted.id}`);
    await usage.flush();
    // Counted again (a request authenticated before the deletion): dropped without a new line.
    usage.record(deleted.id, { requests: 1 });
    usage.record(kept.id, { requests: 1, cost: 1 });
    await usage.close();
    const rows = await queryRows<{ id: number; requests: number; cost: number; errors: number }>(
      db,
      sql`select api_key_id as id, requests::int, cost::int, errors::int from api_key_usage
          where api_key_id in (${kept.id}, ${deleted.id}) and day = '2026-03-04'`,
    );
    expect(rows).toEqual([{ id: kept.id, requests: 3, cost: 8, errors: 1 }]);
    expect(warnings).toEqual([
      { object: { apiKeyIds: [deleted.id] }, message: 'usage of deleted API keys dropped' },
    ]);
  });
});
