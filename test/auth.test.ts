/**
 * API keys on requests: reads stay open, mutations need a key with the `write` scope, a bad
 * key is refused even on a read, keys are stored and compared as hashes and never logged.
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client.js';
import { test as base, describe, expect } from './helpers/fixtures.js';
import { appOn, executeOn } from './helpers/gateway.js';
import { createKey, rowCounts, type TestKey } from './helpers/keys.js';

/** The shared fixtures plus `revoked`: a key with both scopes, revoked. */
const test = base.extend('revoked', { scope: 'file' }, async ({ gateway }): Promise<TestKey> => {
  const revoked = await createKey(gateway.database.db, ['read', 'write']);
  await gateway.database.db.execute(
    sql`update api_keys set revoked_at = now() where id = ${revoked.id}`,
  );
  return revoked;
});

const UPSERT = /* GraphQL */ `
  mutation ($input: UpsertCompanyInput!) {
    upsertCompany(input: $input) {
      __typename
      ... on UpsertCompanySuccess { created company { slug name } }
    }
  }`;
const input = (slug: string) => ({
  input: { slug, name: 'Auth Test Co', country: 'US', roles: ['BUYER'], confidence: 'RECALLED' },
});
const READ = '{ company(slug: "nvidia") { name } }';

describe('reads', () => {
  test('are open without a key, and with a key of any scope', async ({
    gateway,
    writer,
    reader,
  }) => {
    for (const headers of [undefined, reader.headers, writer.headers]) {
      const { data, errors, status } = await gateway.execute(READ, {}, headers);
      expect(errors).toBeUndefined();
      expect(status).toBe(200);
      expect(data.company.name).toBe('NVIDIA Corporation');
    }
  });

  test('with a bad key fail with UNAUTHENTICATED (401), so the caller learns the key is bad', async ({
    gateway,
    revoked,
  }) => {
    const unknown = `cg_${'A'.repeat(43)}`;
    const cases: [string, RegExp][] = [
      [`Bearer ${unknown}`, /not known/],
      [`Bearer ${revoked.key}`, /revoked/],
      ['Bearer cg_short', /malformed/],
      [`Basic ${Buffer.from('user:pass').toString('base64')}`, /must be "Bearer <key>"/],
      ['Bearer', /must be "Bearer <key>"/],
    ];
    for (const [authorization, message] of cases) {
      const { data, errors, status } = await gateway.execute(READ, {}, { authorization });
      expect(status).toBe(401);
      expect(data).toBeUndefined();
      expect(errors).toHaveLength(1);
      expect(errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(errors?.[0]?.message).toMatch(message);
      // The key itself is never echoed.
      const secret = authorization.split(' ')[1];
      if (secret) expect(JSON.stringify(errors)).not.toContain(secret);
    }
  });
});

describe('mutations', () => {
  test('without a key: UNAUTHENTICATED in errors[], nothing written', async ({ gateway }) => {
    const before = await rowCounts(gateway.database.db);
    const { data, errors } = await gateway.execute(UPSERT, input('auth-anonymous'));
    expect(data).toBeNull();
    expect(errors?.map((e) => [e.extensions?.code, e.path])).toEqual([
      ['UNAUTHENTICATED', ['upsertCompany']],
    ]);
    expect(errors?.[0]?.message).toMatch(/needs an API key with the "write" scope/);
    expect(await rowCounts(gateway.database.db)).toEqual(before);
  });

  test('with a key lacking the write scope: FORBIDDEN, nothing written', async ({
    gateway,
    reader,
  }) => {
    const before = await rowCounts(gateway.database.db);
    const { data, errors } = await gateway.execute(UPSERT, input('auth-reader'), reader.headers);
    expect(data).toBeNull();
    expect(errors?.map((e) => [e.extensions?.code, e.path])).toEqual([
      ['FORBIDDEN', ['upsertCompany']],
    ]);
    expect(errors?.[0]?.message).toMatch(/this key has "read"/);
    expect(await rowCounts(gateway.database.db)).toEqual(before);
  });

  test('with a revoked key: UNAUTHENTICATED, nothing written', async ({ gateway, revoked }) => {
    const before = await rowCounts(gateway.database.db);
    const { errors, status } = await gateway.execute(UPSERT, input('auth-revoked'), {
      authorization: `Bearer ${revoked.key}`,
    });
    expect(status).toBe(401);
    expect(errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(await rowCounts(gateway.database.db)).toEqual(before);
  });

  test('with a write key: written', async ({ gateway, writer }) => {
    const { data, errors } = await gateway.execute(UPSERT, input('auth-writer'), writer.headers);
    expect(errors).toBeUndefined();
    expect(data.upsertCompany).toEqual({
      __typename: 'UpsertCompanySuccess',
      created: true,
      company: { slug: 'auth-writer', name: 'Auth Test Co' },
    });
  });

  test('the scheme is case-insensitive and surrounding blanks are ignored', async ({
    gateway,
    writer,
  }) => {
    const { errors } = await gateway.execute(UPSERT, input('auth-writer'), {
      authorization: `  bearer ${writer.key} `,
    });
    expect(errors).toBeUndefined();
  });
});

describe('keys at rest and in use', () => {
  test('stores only the SHA-256 of the key, and its first 10 characters', async ({
    gateway,
    writer,
  }) => {
    const rows = await queryRows<{ prefix: string; key_hash: string; row: string }>(
      gateway.database.db,
      sql`select prefix, key_hash, api_keys::text as row from api_keys where id = ${writer.id}`,
    );
    expect(rows[0]?.key_hash).toBe(createHash('sha256').update(writer.key).digest('hex'));
    expect(rows[0]?.prefix).toBe(writer.key.slice(0, 10));
    expect(rows[0]?.row).not.toContain(writer.key.slice(10));
  });

  test('records last use at most once a minute: one SELECT per request, one UPDATE per minute', async ({
    gateway,
  }) => {
    const key = await createKey(gateway.database.db, ['read']);
    const lastUsed = async () =>
      (
        await queryRows<{ at: string | null }>(
          gateway.database.db,
          sql`select last_used_at::text as at from api_keys where id = ${key.id}`,
        )
      )[0]?.at;
    expect(await lastUsed()).toBeNull();

    gateway.statements.reset();
    await gateway.execute('{ __typename }', {}, key.headers);
    expect(gateway.statements.statements).toEqual([
      expect.stringMatching(/^select .* from "api_keys" where/),
      expect.stringMatching(/^update api_keys set last_used_at = now\(\)/),
    ]);
    const first = await lastUsed();
    expect(first).not.toBeNull();

    gateway.statements.reset();
    await gateway.execute('{ __typename }', {}, key.headers);
    expect(gateway.statements.statements).toEqual([
      expect.stringMatching(/^select .* from "api_keys" where/),
    ]);
    expect(await lastUsed()).toBe(first);

    // A minute later (moved back in the row instead of waiting), the next request writes again.
    const fresh = async () =>
      (
        await queryRows<{ fresh: boolean }>(
          gateway.database.db,
          sql`select last_used_at > now() - interval '30 seconds' as fresh from api_keys where id = ${key.id}`,
        )
      )[0]?.fresh;
    await gateway.database.db.execute(
      sql`update api_keys set last_used_at = last_used_at - interval '61 seconds' where id = ${key.id}`,
    );
    expect(await fresh()).toBe(false);
    await gateway.execute('{ __typename }', {}, key.headers);
    expect(await fresh()).toBe(true);
  });

  test('never logs a key or the header, at any log level', async ({
    gateway,
    writer,
    reader,
    revoked,
  }) => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => {
      lines.push(
        args
          .map((arg) => {
            try {
              return JSON.stringify(arg, (_k, v) =>
                v instanceof Error ? { ...v, m: v.message, s: v.stack } : v,
              );
            } catch {
              return String(arg);
            }
          })
          .join(' '),
      );
    };
    const app = appOn(gateway.database, gateway.events, {
      logger: { debug: capture, info: capture, warn: capture, error: capture },
    });
    try {
      await executeOn(app, READ, {}, writer.headers);
      await executeOn(app, UPSERT, input('auth-logged'), writer.headers);
      await executeOn(app, UPSERT, input('auth-logged'), reader.headers);
      await executeOn(app, READ, {}, { authorization: `Bearer ${revoked.key}` });
      await executeOn(app, READ, {}, { authorization: `Bearer ${writer.key}x` });
      expect(lines.length).toBeGreaterThan(0);
      const log = lines.join('\n');
      for (const key of [writer.key, reader.key, revoked.key]) {
        expect(log).not.toContain(key.slice(3));
      }
      expect(log.toLowerCase()).not.toContain('bearer');
    } finally {
      await app.yoga.dispose();
    }
  });
});
