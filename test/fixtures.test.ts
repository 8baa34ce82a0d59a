/**
 * The shared fixtures (test/helpers/fixtures.ts): a file's `gatewayOptions` override reaches its
 * gateway, the keys are stored with their scopes in that gateway's database, and a file-scoped
 * fixture is one value for the whole file.
 */
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client.js';
import { describe, expect, test } from './helpers/fixtures.js';
import type { TestGateway } from './helpers/gateway.js';

test.override('gatewayOptions', { maxQueue: 7, limits: { maxDepth: 5 } });

let first: TestGateway | undefined;

describe('fixtures', () => {
  test('the gateway is built from the overridden options', async ({ gateway }) => {
    first = gateway;
    expect((gateway.events as unknown as { options: { maxQueue: number } }).options.maxQueue).toBe(
      7,
    );
    const deep = await gateway.execute(
      '{ chip(slug: "h200") { designer { chipsDesigned { edges { node { designer { name } } } } } } }',
    );
    expect(deep.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  test('reader and writer are stored keys with their scopes; the writer may write', async ({
    gateway,
    reader,
    writer,
  }) => {
    expect(gateway).toBe(first);
    const rows = await queryRows<{ id: number; scopes: string[] }>(
      gateway.database.db,
      sql`select id, scopes from api_keys where id in (${reader.id}, ${writer.id}) order by id`,
    );
    expect(rows.map((row) => [row.id, row.scopes])).toEqual(
      [
        [reader.id, ['read']],
        [writer.id, ['write']],
      ].sort((a, b) => Number(a[0]) - Number(b[0])),
    );
    const upsert = `mutation { upsertCompany(input: { slug: "fixture-co", name: "Fixture Co", country: "US", roles: [BUYER], confidence: RECALLED }) { __typename } }`;
    const refused = await gateway.execute(upsert, {}, reader.headers);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const written = await gateway.execute(upsert, {}, writer.headers);
    expect(written.errors).toBeUndefined();
    expect(written.data).toEqual({ upsertCompany: { __typename: 'UpsertCompanySuccess' } });
  });
});
