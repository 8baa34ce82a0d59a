/**
 * The Federal Register against the fixture upstream: the client's batching of document numbers,
 * and the live search (invalid results left out, cursors past the register's 10,000 results,
 * `first: 0`).
 */
import { describe, expect, it } from 'vitest';
import { appWith, SEARCH, upstream, useSourcesTestbed } from './helpers/sources.js';
import { upstreamSourcesConfig } from './helpers/upstream.js';
import { bisDocument } from './helpers/upstream-data.js';

useSourcesTestbed();

describe('the Federal Register client', () => {
  it('splits more than 20 numbers into calls of at most 20; unknown numbers are null', async () => {
    const numbers = Array.from({ length: 24 }, (_, i) => `2024-${String(80001 + i)}`);
    for (const number of numbers) {
      upstream.documents.set(
        number,
        bisDocument({
          document_number: number,
          title: `Batch ${number}`,
          publication_date: '2024-05-01',
        }),
      );
    }
    const { sources } = appWith(upstreamSourcesConfig(upstream));
    const results = await sources.federalRegister?.documents([...numbers, '1999-00000']);
    expect(
      results?.map((result) => (result instanceof Error ? result : (result.value?.title ?? null))),
    ).toEqual([...numbers.map((number) => `Batch ${number}`), null]);
    const sizes = upstream.log.map((entry) => entry.path.split('?')[0]?.split(',').length ?? 0);
    expect(sizes.sort((a, b) => b - a)).toEqual([20, 5]);
  });
});

describe('Federal Register search', () => {
  it('an invalid result is left out and reported; cursors keep the register positions', async () => {
    /** Every page of SEARCH from cold sources, and the first page's `extensions.sources`. */
    const collect = async () => {
      const { execute } = appWith(upstreamSourcesConfig(upstream));
      const pages: string[][] = [];
      let after: string | null = null;
      let reported: unknown;
      let last: any;
      do {
        last = await execute(SEARCH, { after });
        expect(last.errors).toBeUndefined();
        const connection = last.data.federalRegisterDocuments;
        pages.push(connection.edges.map((edge: any) => edge.node.documentNumber));
        reported ??= (last.extensions as any).sources;
        after = connection.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;
      } while (after && pages.length < 100);
      expect(last.data.federalRegisterDocuments.pageInfo.hasNextPage).toBe(false);
      return { pages, reported };
    };
    const intact = await collect();
    const broken = intact.pages[0]?.[1] as string;
    expect(broken).toBeDefined();
    const original = upstream.documents.get(broken);
    upstream.documents.set(broken, { ...(original as any), html_url: 'not a url' });
    try {
      const { pages, reported } = await collect();
      // The same pages, less the broken result; no page is lost or repeated.
      expect(pages).toEqual(intact.pages.map((page) => page.filter((number) => number !== broken)));
      expect(reported).toEqual([
        expect.objectContaining({
          source: 'federal-register',
          resource: 'documents.json?page=1',
          error: 'SOURCE_INVALID_RESPONSE',
          skipped: 1,
          stale: false,
        }),
      ]);
    } finally {
      if (original) upstream.documents.set(broken, original);
    }
  });

  it('a cursor past the 10,000 results the register answers is BAD_USER_INPUT, with no call', async () => {
    const { execute } = appWith(upstreamSourcesConfig(upstream));
    const page = await execute(SEARCH, {});
    const cursor = Buffer.from(
      page.data.federalRegisterDocuments.pageInfo.endCursor,
      'base64',
    ).toString('utf8');
    // The same search's cursor, moved to the last position the register answers.
    const after = Buffer.from(cursor.replace(/\[\d+,/, '[9999,')).toString('base64');
    const calls = upstream.calls('/fr/');
    const result = await execute(SEARCH, { after });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/first 10000 results/);
    expect(upstream.calls('/fr/')).toBe(calls);
  });

  it("a cursor of another search is BAD_USER_INPUT: its position is another search's", async () => {
    const { execute } = appWith(upstreamSourcesConfig(upstream));
    const page = await execute(SEARCH, {});
    const after = page.data.federalRegisterDocuments.pageInfo.endCursor;
    const other = await execute(
      'query ($after: String) { federalRegisterDocuments(first: 5, after: $after, filter: { term: "3A090" }) { totalCount } }',
      { after },
    );
    expect(other.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(other.errors?.[0]?.message).toMatch(/a cursor of another search/);
    // A cursor of a list over the store is not one of the register's either.
    const chips = await execute('{ chips(first: 1) { pageInfo { endCursor } } }');
    const foreign = await execute(SEARCH, { after: chips.data.chips.pageInfo.endCursor });
    expect(foreign.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(foreign.errors?.[0]?.message).toMatch(/was issued by Query\.chips/);
  });
});

describe('Federal Register search with first: 0', () => {
  it('calls the register only when the counts are selected', async () => {
    const { execute } = appWith(upstreamSourcesConfig(upstream));
    const edgesOnly = await execute(`{ federalRegisterDocuments(first: 0) { edges { cursor } } }`);
    expect(edgesOnly.errors).toBeUndefined();
    expect(edgesOnly.data?.federalRegisterDocuments).toEqual({ edges: [] });
    expect(upstream.calls('/fr/')).toBe(0);
    const counted = await execute(
      `{ federalRegisterDocuments(first: 0) { totalCount pageInfo { hasNextPage endCursor } } }`,
    );
    expect(counted.errors).toBeUndefined();
    const bis = [...upstream.documents.values()].filter((d) =>
      d.agencies.some((a) => a.slug === 'industry-and-security-bureau'),
    ).length;
    expect(counted.data?.federalRegisterDocuments).toEqual({
      totalCount: bis,
      pageInfo: { hasNextPage: true, endCursor: null },
    });
    expect(upstream.calls('/fr/')).toBe(1);
  });
});
