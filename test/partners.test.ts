/**
 * Partner access, in process: per-key request and cost limits (an injected clock moves the
 * windows), `Query.viewer`, usage stored by flushes and printed by `keys usage`, trusted
 * documents and persisted-only keys, introspection control. Transports (subscriptions, APQ
 * with Apollo's client, Redis shared by two processes) are in partners-transport.test.ts.
 */
import { sql } from 'drizzle-orm';
import { documentHash } from '../src/access/documents.js';
import { queryRows } from '../src/db/client.js';
import type { RateLimitReason } from '../src/errors.js';
import { manifestFile, registeredDocuments, runDocuments } from './helpers/documents.js';
import { test as base, describe, expect } from './helpers/fixtures.js';
import { accessConfig, type TestGateway } from './helpers/gateway.js';
import { createKey, type TestKey } from './helpers/keys.js';
import { NESTED_QUERY } from './helpers/queries.js';

/** The injected clock: 2026-03-02T10:00:30Z, 30 s into a window. */
let now = Date.parse('2026-03-02T10:00:30Z');
const refused: { keyId: number | null; reason: RateLimitReason }[] = [];

/**
 * The shared fixtures plus this file's read keys: `limited` (5 requests a minute), `other` (no
 * limits of its own), `costly` (a cost limit of 60,000 a minute) and `persisted` (persisted
 * documents only).
 */
const test = base
  .extend('limited', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
    const key = await createKey(gateway.database.db, ['read'], 'five a minute');
    await gateway.database.db.execute(sql`update api_keys set rate_limit = 5 where id = ${key.id}`);
    return key;
  })
  .extend('other', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
    return createKey(gateway.database.db, ['read'], 'unaffected');
  })
  .extend('costly', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
    const key = await createKey(gateway.database.db, ['read'], 'cost limited');
    // The reference query at first: 50 costs 47,351 on the seed data: one fits, two do not.
    await gateway.database.db.execute(
      sql`update api_keys set cost_limit = 60000 where id = ${key.id}`,
    );
    return key;
  })
  .extend('persisted', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
    const key = await createKey(gateway.database.db, ['read'], 'persisted only');
    await gateway.database.db.execute(
      sql`update api_keys set persisted_only = true where id = ${key.id}`,
    );
    return key;
  });
test.override('gatewayOptions', {
  access: {
    config: accessConfig({ CHIPGATE_INTROSPECTION: 'keys' }),
    clock: () => now,
    onRefused: (event) => refused.push(event),
  },
});

const READ = '{ company(slug: "nvidia") { name } }';

/** POSTs in process to `gateway`, returning the raw response (status, headers). */
async function post(
  gateway: TestGateway,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const response = await gateway.app.yoga.fetch('http://chipgate.test/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...headers,
    },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as any,
  };
}

/** The statements `gateway` sent that are not the API-key lookup (authentication) or its touch. */
const nonAuthStatements = (gateway: TestGateway) =>
  gateway.statements.statements.filter((statement) => !/"api_keys"|api_keys/.test(statement));

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

describe('trusted documents', () => {
  const CHIP = 'query Chip($slug: String!) { chip(slug: $slug) { name tpp } }';
  const COMPANIES = 'query FirstCompanies { companies(first: 2) { edges { node { slug } } } }';
  const documents = (gateway: TestGateway, ...args: string[]) =>
    runDocuments(gateway.database.db, ...args);
  const registered = (gateway: TestGateway) => registeredDocuments(gateway.database.db);

  test('a manifest with one wrong hash or one invalid document registers nothing', async ({
    gateway,
  }) => {
    const before = await registered(gateway);
    const wrongHash = await documents(
      gateway,
      'add',
      manifestFile({ [documentHash(CHIP)]: CHIP, [documentHash('x')]: COMPANIES }),
    );
    expect(wrongHash.code).toBe(1);
    expect(wrongHash.err.join('\n')).toMatch(/the hash is not the document's SHA-256/);
    const invalid = '{ chip(slug: "h200") { noSuchField } }';
    const invalidDocument = await documents(
      gateway,
      'add',
      manifestFile({ [documentHash(CHIP)]: CHIP, [documentHash(invalid)]: invalid }),
    );
    expect(invalidDocument.code).toBe(1);
    expect(invalidDocument.err.join('\n')).toMatch(
      /does not validate: Cannot query field "noSuchField"/,
    );
    expect(await registered(gateway)).toBe(before);
  });

  test('runs a registered document by documentId with variables; its fixed cost is stored', async ({
    gateway,
    persisted,
  }) => {
    const added = await documents(
      gateway,
      'add',
      manifestFile({ [documentHash(CHIP)]: CHIP, [documentHash(COMPANIES)]: COMPANIES }),
    );
    expect(added).toMatchObject({ code: 0, err: [] });
    expect(added.out[0]).toMatch(/^Registered 2 trusted document\(s\) for every caller/);
    const costs = await queryRows<{ hash: string; cost: number | null }>(
      gateway.database.db,
      sql`select hash, cost from trusted_documents order by cost nulls first`,
    );
    expect(costs).toEqual([
      { hash: documentHash(CHIP), cost: null },
      { hash: documentHash(COMPANIES), cost: 1 + 2 * 3 },
    ]);
    for (const headers of [{}, persisted.headers]) {
      const byId = await post(
        gateway,
        { documentId: documentHash(CHIP), variables: { slug: 'h200' } },
        headers,
      );
      expect(byId.status).toBe(200);
      expect(byId.body).toEqual({ data: { chip: { name: 'NVIDIA H200 (SXM)', tpp: 15830 } } });
      // The APQ form of the id works too.
      const byExtension = await post(
        gateway,
        {
          variables: { slug: 'h20' },
          extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(CHIP) } },
        },
        headers,
      );
      expect(byExtension.body.data.chip.name).toMatch(/H20\b/);
    }
    // Over GET too.
    const params = new URLSearchParams({
      documentId: documentHash(CHIP),
      variables: JSON.stringify({ slug: 'b200' }),
    });
    const get = await gateway.app.yoga.fetch(`http://chipgate.test/graphql?${params}`, {
      headers: { accept: 'application/graphql-response+json', ...persisted.headers },
    });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({
      data: { chip: { name: 'NVIDIA B200 (HGX)', tpp: expect.any(Number) } },
    });
  });

  test('an unknown id is PERSISTED_QUERY_NOT_IN_LIST; a persisted-only key sending text is PERSISTED_QUERY_ONLY', async ({
    gateway,
    other,
    persisted,
  }) => {
    const unknown = await post(gateway, { documentId: 'a'.repeat(64) }, persisted.headers);
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors.map((e: any) => e.extensions.code)).toEqual([
      'PERSISTED_QUERY_NOT_IN_LIST',
    ]);
    const notAString = await post(gateway, { documentId: 123 }, persisted.headers);
    expect(notAString.status).toBe(400);
    expect(notAString.body.errors[0]).toMatchObject({
      message: expect.stringMatching(/^"documentId" must be a string/),
      extensions: { code: 'BAD_REQUEST' },
    });
    const text = await post(gateway, { query: READ }, persisted.headers);
    expect(text.status).toBe(403);
    expect(text.body.data).toBeUndefined();
    expect(text.body.errors.map((e: any) => e.extensions.code)).toEqual(['PERSISTED_QUERY_ONLY']);
    // An APQ hash that is not registered: no APQ for persisted-only keys.
    const apq = await post(
      gateway,
      { extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(READ) } } },
      persisted.headers,
    );
    expect(apq.body.errors.map((e: any) => e.extensions.code)).toEqual([
      'PERSISTED_QUERY_NOT_IN_LIST',
    ]);
    // Other callers may still send text.
    expect((await post(gateway, { query: READ }, other.headers)).body.data.company.name).toBe(
      'NVIDIA Corporation',
    );
  });

  test('a document registered for one key is not in the list of another', async ({
    gateway,
    other,
    persisted,
  }) => {
    const mine = 'query Mine { chip(slug: "b200") { name } }';
    expect(
      (
        await documents(
          gateway,
          'add',
          '--key',
          String(other.id),
          manifestFile({ [documentHash(mine)]: mine }),
        )
      ).code,
    ).toBe(0);
    expect((await post(gateway, { documentId: documentHash(mine) }, other.headers)).body).toEqual({
      data: { chip: { name: 'NVIDIA B200 (HGX)' } },
    });
    const stranger = await post(gateway, { documentId: documentHash(mine) }, persisted.headers);
    expect(stranger.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    const listed = await documents(gateway, 'list');
    expect(listed.out[0]).toMatch(/^HASH\s+KEY\s+OPERATION\s+COST\s+REGISTERED$/);
    expect(listed.out.find((l) => l.startsWith(documentHash(mine)))).toMatch(
      new RegExp(`^${documentHash(mine)}\\s+${other.id}\\s+Mine\\s+2\\s+`),
    );
    const removed = await documents(gateway, 'remove', documentHash(mine));
    expect(removed.out).toEqual([`Removed 1 registration(s) of ${documentHash(mine)}.`]);
  });
});

describe('introspection: keys', () => {
  test('anonymous callers get no schema and no "Did you mean"; keyed callers get both', async ({
    gateway,
    other,
  }) => {
    const schemaQuery = '{ __schema { queryType { name } } }';
    const anonymous = await post(gateway, { query: schemaQuery });
    expect(anonymous.status).toBe(400);
    expect(anonymous.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(anonymous.body.errors[0].message).toMatch(/introspection/i);
    const typo =
      '{ compny(slug: "nvidia") { name } chips(filter: { designedForChinaMarkt: true }) { totalCount } }';
    const hidden = await post(gateway, { query: typo });
    expect(hidden.body.errors.length).toBeGreaterThan(0);
    for (const error of hidden.body.errors) expect(error.message).not.toMatch(/Did you mean/);
    expect(JSON.stringify(hidden.body)).not.toMatch(/"company"|designedForChinaMarket/);

    const keyed = await post(gateway, { query: schemaQuery }, other.headers);
    expect(keyed.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    const hinted = await post(gateway, { query: typo }, other.headers);
    expect(hinted.body.errors.some((e: any) => /Did you mean "company"/.test(e.message))).toBe(
      true,
    );
  });

  test('no hints in the errors of variable values either (unknown input field, enum value)', async ({
    gateway,
    other,
  }) => {
    const query = 'query ($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { totalCount } }';
    for (const f of [{ jurisdictio: ['US'] }, { status: ['IN_EFECT'] }]) {
      const hidden = await post(gateway, { query, variables: { f } });
      expect(hidden.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(hidden.body)).not.toMatch(/Did you mean|"jurisdiction"|IN_EFFECT/);
      const hinted = await post(gateway, { query, variables: { f } }, other.headers);
      expect(hinted.body.errors[0].message).toMatch(/Did you mean/);
    }
  });
});
