/**
 * Partner documents and introspection, in process: trusted documents (manifests, documentId
 * with variables, fixed costs, persisted-only keys, per-key lists) and introspection control
 * for keys.
 */
import { sql } from 'drizzle-orm';
import { documentHash } from '../src/access/documents.js';
import { queryRows } from '../src/db/client.js';
import type { RateLimitReason } from '../src/errors.js';
import { manifestFile, registeredDocuments, runDocuments } from './helpers/documents.js';
import { describe, expect } from './helpers/fixtures.js';
import { accessConfig, type TestGateway } from './helpers/gateway.js';
import { post, READ, test } from './helpers/partners.js';

/** The injected clock: 2026-03-02T10:00:30Z, 30 s into a window. */
const now = Date.parse('2026-03-02T10:00:30Z');
const refused: { keyId: number | null; reason: RateLimitReason }[] = [];

test.override('gatewayOptions', {
  access: {
    config: accessConfig({ CHIPGATE_INTROSPECTION: 'keys' }),
    clock: () => now,
    onRefused: (event) => refused.push(event),
  },
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
