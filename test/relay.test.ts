/**
 * Relay connections: walking every list page by page, forwards and backwards, with any page
 * size, returns every row exactly once and in order, also when many rows share a date.
 */
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client.js';
import { describe, expect, test } from './helpers/fixtures.js';
import type { TestGateway } from './helpers/gateway.js';

test.beforeAll(async ({ gateway }) => {
  const db = gateway.database.db;
  // 30 decisions and 30 signals on one shared date, with slugs that sort differently in byte
  // order than in a natural-language collation (upper/lower case is not possible in slugs, so
  // digits and hyphens do the work: "tie-1-z" < "tie-10" < "tie-2" bytewise).
  await db.execute(sql`
    insert into policy_decisions (slug, title, jurisdiction, destinations, authority, kind, status, announced_on, confidence)
    select 'tie-' || g || case when g % 3 = 0 then '-z' else '' end, 'Tie ' || g, case when g % 2 = 0 then 'US' else 'CN' end,
           '{CN}', 'BIS', 'EXPORT_RULE', 'IN_EFFECT', date '2024-06-01', 'VERIFIED'
      from generate_series(1, 30) g`);
  await db.execute(sql`
    insert into policy_decision_chips (decision_id, chip_id, effect)
    select d.id, c.id, 'RESTRICTED' from policy_decisions d, chips c
     where d.slug like 'tie-%' and c.slug = 'h200'`);
  await db.execute(sql`
    insert into demand_signals (slug, kind, observed_on, confidence, chip_id)
    select 'ds-tie-' || g, 'ORDER', date '2024-06-01', 'RECALLED', (select id from chips where slug = 'h20')
      from generate_series(1, 30) g`);
  await db.execute(sql`
    insert into demand_signal_companies (signal_id, company_id)
    select s.id, c.id from demand_signals s, companies c where s.slug like 'ds-tie-%' and c.slug = 'alibaba'`);
});

interface Page {
  edges: { cursor: string; node: { slug?: string; id?: string } }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

/** Fetches one page; `path` picks the connection out of `data`. */
type FetchPage = (args: Record<string, unknown>) => Promise<Page>;

async function walkForward(fetchPage: FetchPage, size: number): Promise<string[]> {
  const seen: string[] = [];
  let after: string | null = null;
  for (let i = 0; i < 500; i++) {
    const page = await fetchPage({ first: size, after });
    expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
    seen.push(...page.edges.map((e) => e.node.slug ?? e.node.id ?? ''));
    if (page.edges.length > 0) {
      expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor);
    }
    if (!page.pageInfo.hasNextPage) {
      expect(page.edges.length).toBeLessThanOrEqual(size);
      return seen;
    }
    expect(page.edges.length).toBe(size);
    after = page.pageInfo.endCursor;
  }
  throw new Error('did not reach the end');
}

async function walkBackward(fetchPage: FetchPage, size: number): Promise<string[]> {
  const pages: string[][] = [];
  let before: string | null = null;
  for (let i = 0; i < 500; i++) {
    const page = await fetchPage({ last: size, before });
    expect(page.pageInfo.hasNextPage).toBe(before !== null);
    pages.unshift(page.edges.map((e) => e.node.slug ?? e.node.id ?? ''));
    if (!page.pageInfo.hasPreviousPage) return pages.flat();
    expect(page.edges.length).toBe(size);
    before = page.pageInfo.startCursor;
  }
  throw new Error('did not reach the start');
}

/** The `slug` column of `query`'s rows on `gateway`'s database, in order. */
async function slugs(gateway: TestGateway, query: string): Promise<string[]> {
  const rows = await queryRows<{ slug: string }>(gateway.database.db, sql.raw(query));
  return rows.map((row) => row.slug);
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function checkWalks(fetchPage: FetchPage, expected: string[]) {
  expect(new Set(expected).size).toBe(expected.length);
  for (const size of [1, 4, 7, 20, 100]) {
    expect(await walkForward(fetchPage, size)).toEqual(expected);
    expect(await walkBackward(fetchPage, size)).toEqual(expected);
  }
}

describe('root connections', () => {
  test('policyDecisions: newest first, ties by slug descending in byte order', async ({
    gateway,
  }) => {
    const expected = await slugs(
      gateway,
      'select slug from policy_decisions order by announced_on desc, slug desc',
    );
    const ties = expected.filter((s) => s.startsWith('tie-'));
    expect(ties).toEqual([...ties].sort(byteOrder).reverse());
    expect(ties.slice(0, 3)).toEqual(['tie-9-z', 'tie-8', 'tie-7']);
    const fetchPage: FetchPage = async (args) => {
      const { data, errors } = await gateway.execute(
        /* GraphQL */ `query ($first: Int, $last: Int, $after: String, $before: String) {
          policyDecisions(first: $first, last: $last, after: $after, before: $before) {
            edges { cursor node { slug } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          }
        }`,
        args,
      );
      expect(errors).toBeUndefined();
      return data.policyDecisions;
    };
    await checkWalks(fetchPage, expected);
  });

  test('policyDecisions ascending, filtered', async ({ gateway }) => {
    const expected = await slugs(
      gateway,
      `select slug from policy_decisions where jurisdiction = 'US' order by announced_on asc, slug asc`,
    );
    const fetchPage: FetchPage = async (args) => {
      const { data } = await gateway.execute(
        /* GraphQL */ `query ($first: Int, $last: Int, $after: String, $before: String) {
          policyDecisions(first: $first, last: $last, after: $after, before: $before,
                          orderBy: ANNOUNCED_ON_ASC, filter: { jurisdiction: ["US"] }) {
            totalCount edges { cursor node { slug } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          }
        }`,
        args,
      );
      expect(data.policyDecisions.totalCount).toBe(expected.length);
      return data.policyDecisions;
    };
    await checkWalks(fetchPage, expected);
  });

  test('demandSignals: newest first, ties by slug', async ({ gateway }) => {
    const expected = await slugs(
      gateway,
      'select slug from demand_signals order by observed_on desc, slug desc',
    );
    const fetchPage: FetchPage = async (args) => {
      const { data } = await gateway.execute(
        /* GraphQL */ `query ($first: Int, $last: Int, $after: String, $before: String) {
          demandSignals(first: $first, last: $last, after: $after, before: $before) {
            edges { cursor node { slug } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          }
        }`,
        args,
      );
      return data.demandSignals;
    };
    await checkWalks(fetchPage, expected);
  });

  test('companies and chips: by name, then slug', async ({ gateway }) => {
    for (const [field, table] of [
      ['companies', 'companies'],
      ['chips', 'chips'],
    ] as const) {
      const expected = await slugs(
        gateway,
        `select slug from ${table} order by name asc, slug asc`,
      );
      const fetchPage: FetchPage = async (args) => {
        const { data } = await gateway.execute(
          `query ($first: Int, $last: Int, $after: String, $before: String) {
            ${field}(first: $first, last: $last, after: $after, before: $before) {
              edges { cursor node { slug } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            }
          }`,
          args,
        );
        return data[field];
      };
      await checkWalks(fetchPage, expected);
    }
  });
});

describe('nested connections', () => {
  test('Chip.policyDecisions pages through the links, each edge with its effect', async ({
    gateway,
  }) => {
    const expected = await slugs(
      gateway,
      `select d.slug from policy_decisions d join policy_decision_chips l on l.decision_id = d.id
      join chips c on c.id = l.chip_id where c.slug = 'h200' order by d.announced_on desc, d.slug desc`,
    );
    expect(expected.length).toBeGreaterThan(35);
    const fetchPage: FetchPage = async (args) => {
      const { data, errors } = await gateway.execute(
        /* GraphQL */ `query ($first: Int, $last: Int, $after: String, $before: String) {
          chip(slug: "h200") { policyDecisions(first: $first, last: $last, after: $after, before: $before) {
            totalCount edges { cursor effect node { slug } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          } }
        }`,
        args,
      );
      expect(errors).toBeUndefined();
      expect(data.chip.policyDecisions.totalCount).toBe(expected.length);
      return data.chip.policyDecisions;
    };
    await checkWalks(fetchPage, expected);
  });

  test('Company.demandSignals pages through a many-to-many relation', async ({ gateway }) => {
    const expected = await slugs(
      gateway,
      `select s.slug from demand_signals s join demand_signal_companies l on l.signal_id = s.id
      join companies c on c.id = l.company_id where c.slug = 'alibaba' order by s.observed_on desc, s.slug desc`,
    );
    const fetchPage: FetchPage = async (args) => {
      const { data } = await gateway.execute(
        /* GraphQL */ `query ($first: Int, $last: Int, $after: String, $before: String) {
          company(slug: "alibaba") { demandSignals(first: $first, last: $last, after: $after, before: $before) {
            totalCount edges { cursor node { slug } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          } }
        }`,
        args,
      );
      expect(data.company.demandSignals.totalCount).toBe(expected.length);
      return data.company.demandSignals;
    };
    await checkWalks(fetchPage, expected);
  });

  test('timeline pages forwards and backwards through decisions, updates and signals', async ({
    gateway,
  }) => {
    const fetchPage: FetchPage = async (args) => {
      const { data, errors } = await gateway.execute(
        /* GraphQL */ `query ($first: Int, $last: Int, $after: String, $before: String) {
          timeline(first: $first, last: $last, after: $after, before: $before) {
            totalCount
            edges { cursor node { __typename ... on PolicyDecision { slug } ... on DemandSignal { slug } ... on PolicyDecisionUpdate { id } } }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          }
        }`,
        args,
      );
      expect(errors).toBeUndefined();
      return data.timeline;
    };
    const everything = await walkForward(fetchPage, 100);
    const [decisions, signals, transitions] = await Promise.all([
      slugs(gateway, 'select slug from policy_decisions'),
      slugs(gateway, 'select slug from demand_signals'),
      slugs(
        gateway,
        'select id::text as slug from policy_decision_updates where from_status is not null',
      ),
    ]);
    expect(everything.length).toBe(decisions.length + signals.length + transitions.length);
    for (const size of [1, 6, 25]) {
      expect(await walkForward(fetchPage, size)).toEqual(everything);
      expect(await walkBackward(fetchPage, size)).toEqual(everything);
    }
  });
});
