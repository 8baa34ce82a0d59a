/**
 * No N+1: the number of SQL statements for a request does not grow with page sizes. The
 * statement log is drizzle's logger, so every statement the gateway sends is counted.
 */

import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from './helpers/gateway.js';
import { NESTED_QUERY } from './helpers/queries.js';

/** Fills a test database with many more rows per level than the seed has. */
async function generate(gateway: TestGateway) {
  const db = gateway.database.db;
  // 60 more companies, each designing 3 chips named by 4 decisions and 12 signals, so that a
  // page of 50 has far more rows at every level than a page of 5.
  await db.execute(sql`
    insert into companies (slug, name, country, roles, confidence)
    select 'gen-co-' || g, 'Generated ' || lpad(g::text, 3, '0'), 'US', '{DESIGNER}', 'RECALLED'
      from generate_series(1, 60) g`);
  await db.execute(sql`
    insert into chips (slug, name, designer_id, confidence, tpp)
    select 'gen-chip-' || c.id || '-' || k, 'Gen chip ' || c.id || '-' || k, c.id, 'RECALLED', 1000 * k
      from companies c, generate_series(1, 3) k where c.slug like 'gen-co-%'`);
  await db.execute(sql`
    insert into policy_decisions (slug, title, jurisdiction, destinations, authority, kind, status, announced_on, confidence)
    select 'gen-decision-' || g, 'Generated decision ' || g, 'US', '{CN}', 'BIS', 'EXPORT_RULE', 'IN_EFFECT',
           date '2024-01-01' + g, 'RECALLED'
      from generate_series(1, 40) g`);
  await db.execute(sql`
    insert into policy_decision_chips (decision_id, chip_id, effect)
    select d.id, c.id, 'LICENSE_REQUIRED' from policy_decisions d, chips c
     where d.slug like 'gen-decision-%' and c.slug like 'gen-chip-%' and (d.id + c.id) % 10 < 4`);
  await db.execute(sql`
    insert into demand_signals (slug, kind, observed_on, value_usd, confidence)
    select 'gen-signal-' || g, 'ORDER', date '2025-01-01' + (g % 90), g * 1000000, 'RECALLED'
      from generate_series(1, 720) g`);
  await db.execute(sql`
    insert into demand_signal_companies (signal_id, company_id)
    select s.id, c.id from demand_signals s
      join companies c on c.slug = 'gen-co-' || (1 + (substring(s.slug from 12)::int % 60))
     where s.slug like 'gen-signal-%'`);
}

const countRecords = (value: unknown): number => {
  if (Array.isArray(value)) return value.reduce((sum, item) => sum + countRecords(item), 0);
  if (value && typeof value === 'object') {
    const own = 'slug' in value ? 1 : 0;
    return own + Object.values(value).reduce((sum: number, item) => sum + countRecords(item), 0);
  }
  return 0;
};

/**
 * Statements each read path sends for a request: the planner one per root field; the
 * resolvers one per root field plus one per batch of counts, export statuses or rows.
 */
const PATHS = [
  { path: 'planned', planner: 'on', reference: 1, totalCounts: 1, story: 2 },
  { path: 'resolvers', planner: 'off', reference: 1, totalCounts: 6, story: 11 },
] as const;

describe.each(PATHS)('statements per request ($path)', (expected) => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await createTestGateway({ planner: expected.planner });
    await generate(gateway);
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('the reference query issues the same statements at first: 5 and at first: 50', async () => {
    gateway.statements.reset();
    const small = await gateway.execute(NESTED_QUERY, { first: 5 });
    const smallStatements = gateway.statements.count;
    gateway.statements.reset();
    const large = await gateway.execute(NESTED_QUERY, { first: 50 });
    const largeStatements = gateway.statements.count;

    expect(small.errors).toBeUndefined();
    expect(large.errors).toBeUndefined();
    expect(small.data.companies.edges).toHaveLength(5);
    expect(large.data.companies.edges).toHaveLength(50);
    // The large page really is large at every level.
    expect(countRecords(large.data)).toBeGreaterThan(10 * countRecords(small.data));
    const nested = large.data.companies.edges.flatMap((e: any) => e.node.chipsDesigned.edges);
    expect(nested.some((e: any) => e.node.policyDecisions.edges.length > 0)).toBe(true);

    expect(smallStatements).toBe(expected.reference);
    expect(largeStatements).toBe(expected.reference);
  });

  it('totalCount at every level costs a fixed number of statements', async () => {
    const query = (first: number) => /* GraphQL */ `{
      companies(first: ${first}) { totalCount edges { node {
        chipsDesigned(first: 2) { totalCount edges { node { policyDecisions(first: 2) { totalCount edges { effect } } } } }
        demandSignals(first: 1) { totalCount }
        policyDecisions(first: 1) { totalCount }
      } } }
    }`;
    gateway.statements.reset();
    const small = await gateway.execute(query(3));
    const smallStatements = gateway.statements.count;
    gateway.statements.reset();
    const { data, errors } = await gateway.execute(query(40));
    expect(small.errors).toBeUndefined();
    expect(errors).toBeUndefined();
    expect(data.companies.totalCount).toBe(75);
    const generated = data.companies.edges.find((e: any) => e.node.chipsDesigned.totalCount === 3);
    expect(generated).toBeDefined();
    // Planned: one statement with every count inline. Resolvers: the page (1), the root
    // totalCount (1), and one batched count per related list (4): the same at any page size.
    expect(gateway.statements.count).toBe(expected.totalCounts);
    expect(smallStatements).toBe(expected.totalCounts);
  });

  it('the story query costs a fixed number of statements', async () => {
    const { STORY_QUERY } = await import('../src/story.js');
    gateway.statements.reset();
    const { errors } = await gateway.execute(STORY_QUERY);
    expect(errors).toBeUndefined();
    // Planned: one statement per root field (chip, timeline). Resolvers: the chip with its
    // nested lists (1) and its decision count (1), export status for 3 dates (3), the deciding
    // decisions of all three (1, batched), the timeline page (1), its rows per type (3), its
    // totalCount (1).
    expect(gateway.statements.count).toBe(expected.story);
  });
});
