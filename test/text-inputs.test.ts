/**
 * Text inputs as the store holds them: lengths counted in code points (as PostgreSQL's
 * `char_length` counts), a URL's limit applied to the normalized form that is stored, and NUL
 * (U+0000), which PostgreSQL `text` cannot hold, refused as `BAD_USER_INPUT` before anything
 * runs, never a database error.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { queryRows } from '../src/db/client.js';
import { TEXT_LIMITS } from '../src/db/limits.js';
import { bothReadPaths, postOn } from './helpers/gateway.js';
import { createKey, rowCounts, type TestKey } from './helpers/keys.js';
import { type InProcessGateway, removeTempDirs, startInProcessGateway } from './helpers/server.js';
import { subscribeWs, wsClient } from './helpers/subscribers.js';

const both = bothReadPaths();
let writer: TestKey;
beforeAll(async () => {
  writer = await createKey(both.gateway.database.db, ['write']);
});

/** Both read paths: the planner (the gateway's default) and the resolvers. */

const PATHS = both.paths;

interface Result {
  status: number;
  data?: any;
  errors?: { message: string; path?: unknown[]; extensions?: { code?: string } }[];
}

/** POSTs an operation with variables to `app` (the gateway's by default). */
async function post(
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
  app: App = both.gateway.app,
): Promise<Result> {
  const { status, text } = await postOn(app, query, variables, headers);
  return { status, ...JSON.parse(text) };
}

const codes = (result: Result) => (result.errors ?? []).map((e) => e.extensions?.code);

const UPSERT_CHIP = /* GraphQL */ `
  mutation ($input: UpsertChipInput!) {
    upsertChip(input: $input) {
      __typename
      ... on UpsertChipSuccess { chip { slug name sourceUrl } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }`;

/** Upserts a chip named `name` with `sourceUrl`, as the write key. */
const upsertChip = (slug: string, fields: { name?: string; sourceUrl?: string }) =>
  post(
    UPSERT_CHIP,
    { input: { slug, name: 'Chip', designer: 'nvidia', confidence: 'RECALLED', ...fields } },
    writer.headers,
  );

/** A stored chip's name and source URL, with their lengths as PostgreSQL counts them. */
async function stored(slug: string) {
  const rows = await queryRows<{
    name: string;
    name_length: number;
    source_url: string | null;
    url_length: number | null;
  }>(
    both.gateway.database.db,
    sql`select name, char_length(name) as name_length, source_url,
               char_length(source_url) as url_length from chips where slug = ${slug}`,
  );
  return rows[0];
}

describe('a URL is measured as stored, after normalization', () => {
  const base = 'https://example.com/'; // 20 characters
  // `é` is one character sent and six stored (`%C3%A9`): 20 + 338 * 6 = 2,048.
  const atLimit = `${base}${'é'.repeat((TEXT_LIMITS.url - base.length) / 6)}`;
  const overLimit = `${atLimit}é`;

  it('under the limit as sent, over it once normalized: BAD_USER_INPUT, nothing stored', async () => {
    expect(overLimit.length).toBeLessThan(TEXT_LIMITS.url);
    const before = await rowCounts(both.gateway.database.db);
    const result = await upsertChip('url-over', { sourceUrl: overLimit });
    expect(result.data).toBeUndefined();
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors?.[0]?.message).toContain(
      `URL must be at most ${TEXT_LIMITS.url} characters once normalized`,
    );
    expect(result.errors?.[0]?.message).toContain(`this one is ${TEXT_LIMITS.url + 6}`);
    // Punycode lengthens a host too.
    const host = await upsertChip('url-over', {
      sourceUrl: `https://${'ü'.repeat(60)}.example/${'a'.repeat(TEXT_LIMITS.url - 80)}`,
    });
    expect(codes(host)).toEqual(['BAD_USER_INPUT']);
    // As a literal: refused at validation, as every scalar literal that does not parse.
    const literal = await post(
      `mutation { upsertChip(input: { slug: "url-over", name: "C", designer: "nvidia", confidence: RECALLED, sourceUrl: "${overLimit}" }) { __typename } }`,
      undefined,
      writer.headers,
    );
    expect(codes(literal)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(await rowCounts(both.gateway.database.db)).toEqual(before);
    expect(await stored('url-over')).toBeUndefined();
  });

  it('at the limit once normalized: stored, exactly that long', async () => {
    const result = await upsertChip('url-at-limit', { sourceUrl: atLimit });
    expect(result.errors).toBeUndefined();
    expect(result.data.upsertChip.__typename).toBe('UpsertChipSuccess');
    const row = await stored('url-at-limit');
    expect(row?.url_length).toBe(TEXT_LIMITS.url);
    expect(row?.source_url).toBe(new URL(atLimit).toString());
    expect(result.data.upsertChip.chip.sourceUrl).toBe(row?.source_url);
  });
});

describe('lengths count code points, as PostgreSQL does', () => {
  const emoji = '😀'; // one code point, two UTF-16 units

  it('a name of exactly its limit in emoji is stored; one more is a ValidationError', async () => {
    const name = emoji.repeat(TEXT_LIMITS.shortText);
    expect(name.length).toBe(2 * TEXT_LIMITS.shortText);
    const fits = await upsertChip('emoji-name', { name });
    expect(fits.data?.upsertChip.__typename).toBe('UpsertChipSuccess');
    const row = await stored('emoji-name');
    expect(row?.name).toBe(name);
    expect(row?.name_length).toBe(TEXT_LIMITS.shortText);

    const over = await upsertChip('emoji-name-over', { name: `${name}${emoji}` });
    expect(over.data?.upsertChip).toEqual({
      __typename: 'ValidationError',
      fieldErrors: [
        {
          path: ['input', 'name'],
          message: `Must be at most ${TEXT_LIMITS.shortText} characters (got ${TEXT_LIMITS.shortText + 1}).`,
        },
      ],
    });
    expect(await stored('emoji-name-over')).toBeUndefined();
  });

  it.each(PATHS)(
    '%s: a read argument of exactly its limit in emoji runs; one more is BAD_USER_INPUT',
    async (_name, app) => {
      const query = 'query ($a: String) { chips(filter: { architecture: $a }) { totalCount } }';
      const fits = await post(query, { a: emoji.repeat(TEXT_LIMITS.shortText) }, {}, app());
      expect(fits.errors).toBeUndefined();
      expect(fits.data).toEqual({ chips: { totalCount: 0 } });
      both.gateway.statements.reset();
      const over = await post(query, { a: emoji.repeat(TEXT_LIMITS.shortText + 1) }, {}, app());
      expect(codes(over)).toEqual(['BAD_USER_INPUT']);
      expect(over.errors?.[0]?.message).toContain(
        `must be at most ${TEXT_LIMITS.shortText} characters (got ${TEXT_LIMITS.shortText + 1})`,
      );
      expect(both.gateway.statements.statements).toEqual([]);
    },
  );

  it('the slug CHECK constraint and the slug validator agree at the limit', async () => {
    const db = both.gateway.database.db;
    const insert = (slug: string) =>
      queryRows(
        db,
        sql`insert into companies (slug, name, country, roles, confidence)
            values (${slug}, 'Check', 'US', '{DESIGNER}', 'RECALLED') returning slug`,
      );
    await expect(insert('a'.repeat(TEXT_LIMITS.slug))).resolves.toHaveLength(1);
    await expect(insert('b'.repeat(TEXT_LIMITS.slug + 1))).rejects.toThrow();
    const over = await upsertChip('c'.repeat(TEXT_LIMITS.slug + 1), {});
    expect(over.data?.upsertChip.__typename).toBe('ValidationError');
    const fits = await upsertChip('c'.repeat(TEXT_LIMITS.slug), {});
    expect(fits.data?.upsertChip.__typename).toBe('UpsertChipSuccess');
  });
});

describe('NUL (U+0000) in text inputs: BAD_USER_INPUT before anything runs', () => {
  const nul = 'a\u0000b';

  it('in every kind of mutation input, as a variable or a literal: nothing written', async () => {
    const before = await rowCounts(both.gateway.database.db);
    const cases: [string, Record<string, unknown> | undefined][] = [
      [
        UPSERT_CHIP,
        { input: { slug: 'nul-chip', name: nul, designer: 'nvidia', confidence: 'RECALLED' } },
      ],
      [
        UPSERT_CHIP,
        {
          input: {
            slug: 'nul-chip',
            name: 'N',
            designer: 'nvidia',
            confidence: 'RECALLED',
            architecture: nul,
          },
        },
      ],
      [
        'mutation ($input: UpdatePolicyDecisionStatusInput!) { updatePolicyDecisionStatus(input: $input) { __typename } }',
        {
          input: { slug: 'us-whitehouse-2025-12-08-h200-approval', status: 'SUSPENDED', note: nul },
        },
      ],
      [
        'mutation ($input: RecordDemandSignalInput!) { recordDemandSignal(input: $input) { __typename } }',
        {
          input: {
            slug: 'nul-signal',
            companies: ['nvidia', nul],
            kind: 'ORDER',
            observedOn: '2025-01-01',
          },
        },
      ],
      [
        'mutation { upsertChip(input: { slug: "nul-chip", name: "a\\u0000b", designer: "nvidia", confidence: RECALLED }) { __typename } }',
        undefined,
      ],
    ];
    for (const [query, variables] of cases) {
      const result = await post(query, variables, writer.headers);
      expect(result.status, query).toBeLessThan(500);
      expect(result.data, query).toBeUndefined();
      expect(codes(result), query).toEqual(['BAD_USER_INPUT']);
      expect(result.errors?.[0]?.message).toMatch(/must not contain the NUL character \(U\+0000\)/);
    }
    expect(await rowCounts(both.gateway.database.db)).toEqual(before);
  });

  it.each(PATHS)('%s: in read arguments, before any SQL', async (_name, app) => {
    for (const [query, variables] of [
      ['query ($s: String!) { chip(slug: $s) { name } }', { s: nul }],
      ['query ($a: String) { chips(filter: { architecture: $a }) { totalCount } }', { a: nul }],
      [
        'query ($c: String) { policyDecisions(filter: { company: $c }) { totalCount } }',
        { c: nul },
      ],
      ['{ company(slug: "nvidia\\u0000") { name } }', {}],
    ] as const) {
      both.gateway.statements.reset();
      const result = await post(query, variables, {}, app());
      expect(result.status, query).toBeLessThan(500);
      expect(codes(result), query).toEqual(['BAD_USER_INPUT']);
      expect(result.errors?.[0]?.message).toMatch(/must not contain the NUL character \(U\+0000\)/);
      expect(both.gateway.statements.statements, query).toEqual([]);
    }
  });
});

describe('NUL over the WebSocket transport', () => {
  let server: InProcessGateway;
  beforeAll(async () => {
    server = await startInProcessGateway();
  });
  afterAll(async () => {
    await server?.stop();
    removeTempDirs();
  });

  it('in the variables of a query or a subscription: BAD_USER_INPUT, the socket stays open', async () => {
    const ws = wsClient(server.url);
    try {
      for (const [query, variables] of [
        ['query ($s: String!) { chip(slug: $s) { name } }', { s: 'a\u0000b' }],
        [
          'subscription ($c: String) { demandSignalRecorded(filter: { company: $c }, after: "RXZlbnQ6MA==") { slug } }',
          { c: 'a\u0000b' },
        ],
      ] as const) {
        const operation = subscribeWs(ws, query, variables);
        await operation.waitForComplete(30_000).catch(() => {});
        expect(operation.results, query).toEqual([]);
        const failure = operation.failure as { message: string; extensions?: { code?: string } }[];
        expect(Array.isArray(failure), query).toBe(true);
        expect(failure.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
        expect(failure[0]?.message).toMatch(/must not contain the NUL character \(U\+0000\)/);
      }
      // The connection is still good for the next operation.
      const good = subscribeWs(ws, '{ chip(slug: "h200") { slug } }');
      const [result] = await good.waitForResults(1, 30_000);
      expect(result?.data).toEqual({ chip: { slug: 'h200' } });
    } finally {
      await ws.dispose();
    }
  }, 120_000);
});
