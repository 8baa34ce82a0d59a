/** Exact values: money as exact decimal strings, dates as calendar dates, nulls stay null. */
import { sql } from 'drizzle-orm';
import { describe, expect, test } from './helpers/fixtures.js';

test.beforeAll(async ({ gateway }) => {
  // More digits than a double can hold: a float anywhere on the way would change it.
  await gateway.database.db.execute(sql`
    insert into demand_signals (slug, kind, observed_on, value_usd, confidence)
    values ('ds-precise-value', 'REVENUE', date '2024-02-29', 12345678901234567890.12, 'RECALLED')`);
  await gateway.database.db.execute(sql`
    insert into demand_signal_companies (signal_id, company_id)
    select s.id, c.id from demand_signals s, companies c where s.slug = 'ds-precise-value' and c.slug = 'amd'`);
});

describe('money', () => {
  test('comes back as the exact decimal string at top level', async ({ gateway }) => {
    const { data } = await gateway.execute(/* GraphQL */ `{
      a: demandSignal(slug: "ds-2025-04-02-cn-h20-orders") { valueUsd quantityUnits }
      b: demandSignal(slug: "ds-precise-value") { valueUsd observedOn }
      c: demandSignal(slug: "ds-2025-12-31-bytedance-2026-nvidia-spend") { valueUsd valueOriginal { amount currency } }
    }`);
    expect(data.a).toEqual({ valueUsd: '16000000000', quantityUnits: null });
    expect(data.b).toEqual({ valueUsd: '12345678901234567890.12', observedOn: '2024-02-29' });
    expect(data.c).toEqual({
      valueUsd: '14000000000',
      valueOriginal: { amount: '100000000000', currency: 'CNY' },
    });
  });

  test('comes back exact when nested under a company', async ({ gateway }) => {
    const { data } = await gateway.execute(/* GraphQL */ `{
      company(slug: "amd") { demandSignals(first: 10) { edges { node { slug valueUsd } } } }
    }`);
    const values = Object.fromEntries(
      data.company.demandSignals.edges.map((e: any) => [e.node.slug, e.node.valueUsd]),
    );
    expect(values['ds-precise-value']).toBe('12345678901234567890.12');
    expect(values['ds-2024-12-31-amd-2024-china-revenue']).toBe('6200000000');
    expect(values['ds-2025-04-16-amd-mi308-charge']).toBe('800000000');
  });
});

describe('facts as the seed gives them', () => {
  test('keeps null facts null and pads the SEC CIK to 10 digits', async ({ gateway }) => {
    const { data } = await gateway.execute(/* GraphQL */ `{
      b30a: chip(slug: "b30a") { tpp fp16DenseTflops launchYear foundry { slug } designer { slug } designedForChinaMarket }
      nvidia: company(slug: "nvidia") { secCik ticker exchange country roles listings { ticker primary } }
      tsmc: company(slug: "tsmc") { ticker exchange roles listings { ticker exchange primary note } }
      bytedance: company(slug: "bytedance") { secCik ticker listings { ticker } roles }
    }`);
    expect(data.b30a).toEqual({
      tpp: null,
      fp16DenseTflops: null,
      launchYear: null,
      foundry: null,
      designer: { slug: 'nvidia' },
      designedForChinaMarket: true,
    });
    expect(data.nvidia).toEqual({
      secCik: '0001045810',
      ticker: 'NVDA',
      exchange: 'NASDAQ',
      country: 'US',
      roles: ['DESIGNER'],
      listings: [{ ticker: 'NVDA', primary: true }],
    });
    expect(data.tsmc).toEqual({
      ticker: '2330',
      exchange: 'TWSE',
      roles: ['FOUNDRY'],
      listings: [
        { ticker: '2330', exchange: 'TWSE', primary: true, note: null },
        { ticker: 'TSM', exchange: 'NYSE', primary: false, note: 'ADR' },
      ],
    });
    expect(data.bytedance).toEqual({ secCik: null, ticker: null, listings: [], roles: ['BUYER'] });
  });

  test('gives a chip its specifications with units as documented', async ({ gateway }) => {
    const { data } = await gateway.execute(/* GraphQL */ `{
      chip(slug: "h20") { tpp memoryGb memoryBandwidthTBs tdpWatts exportControlNote derivedFrom { slug } derivedFields sourceUrl confidence }
    }`);
    expect(data.chip).toMatchObject({
      tpp: 2368,
      derivedFrom: { slug: 'h100' },
      confidence: 'VERIFIED',
    });
    expect(data.chip.derivedFields).toContain('tpp');
    expect(data.chip.sourceUrl).toMatch(/^https?:\/\//);
  });

  test('an unknown slug is null, not an error', async ({ gateway }) => {
    const { data, errors } = await gateway.execute(/* GraphQL */ `{
      company(slug: "nope") { slug } chip(slug: "nope") { slug }
      policyDecision(slug: "nope") { slug } demandSignal(slug: "nope") { slug }
    }`);
    expect(errors).toBeUndefined();
    expect(data).toEqual({ company: null, chip: null, policyDecision: null, demandSignal: null });
  });
});

describe('filters', () => {
  test('narrow decisions by jurisdiction, destination, status, kind, chip, company and dates', async ({
    gateway,
  }) => {
    const { data, errors } = await gateway.execute(/* GraphQL */ `{
      policyDecisions(first: 100, orderBy: ANNOUNCED_ON_ASC, filter: {
        jurisdiction: ["cn"], destination: "CN", status: [APPROVED, SUPERSEDED], chip: "h200",
        announcedFrom: "2025-12-09", announcedTo: "2026-01-28"
      }) { totalCount edges { node { slug } } }
      byCompany: policyDecisions(first: 100, filter: { company: "smic", kind: [EXPORT_RULE] }) { edges { node { slug } } }
    }`);
    expect(errors).toBeUndefined();
    expect(data.policyDecisions.edges.map((e: any) => e.node.slug)).toEqual([
      'cn-2025-12-09-h200-import-deliberation',
      'cn-customs-2026-01-13-h200-not-permitted',
      'cn-2026-01-24-h200-orders-in-principle',
      'cn-2026-01-28-h200-first-batch-approved',
    ]);
    expect(data.policyDecisions.totalCount).toBe(4);
    expect(data.byCompany.edges.map((e: any) => e.node.slug)).toEqual([
      'us-bis-2024-12-02',
      'us-bis-2022-10-07',
    ]);
  });

  test('narrow chips, companies and signals', async ({ gateway }) => {
    const { data } = await gateway.execute(/* GraphQL */ `{
      chips(first: 100, filter: { designer: "nvidia", designedForChinaMarket: true, minTpp: 1000 }) { totalCount edges { node { slug } } }
      hopper: chips(filter: { architecture: "hopper" }) { edges { node { slug } } }
      companies(filter: { country: ["CN"], role: [DOMESTIC_ALTERNATIVE] }) { edges { node { slug } } }
      demandSignals(first: 100, filter: { kind: [WRITE_DOWN], company: "nvidia", observedFrom: "2025-05-01" }) { edges { node { slug } } }
    }`);
    expect(data.chips.edges.map((e: any) => e.node.slug)).toEqual(['a800', 'h20', 'h800']);
    expect(data.chips.totalCount).toBe(3);
    expect(data.hopper.edges.map((e: any) => e.node.slug).sort()).toEqual([
      'h100',
      'h20',
      'h200',
      'h800',
    ]);
    expect(data.companies.edges.map((e: any) => e.node.slug)).toEqual([
      'cambricon',
      'huawei',
      'smic',
    ]);
    expect(data.demandSignals.edges.map((e: any) => e.node.slug)).toEqual([
      'ds-2025-05-28-nvidia-q1fy26-h20-charge',
    ]);
  });
});
