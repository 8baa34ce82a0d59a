/**
 * External sources against the fixture upstream (a real HTTP server on 127.0.0.1): the joined
 * story, upstream call counts (batching, caching), each failure mode as a partial response,
 * the circuit breaker, serve-stale-on-error, conditional GET and SOURCE_NOT_CONFIGURED.
 */
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../src/app.js';
import { policyDecisions } from '../src/db/schema.js';
import { ConfigError, loadEnv } from '../src/env.js';
import { createSources, type Sources, type SourcesConfig } from '../src/sources/index.js';
import { stripHtml } from '../src/sources/news.js';
import {
  accessConfig,
  createTestGateway,
  defaultLimits,
  executeOn,
  type Response,
  type TestGateway,
} from './helpers/gateway.js';
import { startInProcessGateway } from './helpers/server.js';
import {
  bisDocument,
  COMPANY_FACTS,
  startUpstream,
  type Upstream,
  upstreamSourcesConfig,
} from './helpers/upstream.js';

let upstream: Upstream;
let gateway: TestGateway;
const opened: Sources[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  gateway = await createTestGateway({ sources: upstreamSourcesConfig(upstream) });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});
afterEach(async () => {
  upstream.reset();
  await Promise.all(opened.splice(0).map((sources) => sources.close()));
});

/** An app over the test database with its own (cold) sources. */
function appWith(config: SourcesConfig) {
  const sources = createSources(config);
  opened.push(sources);
  const app = createApp({
    db: gateway.database.db,
    events: gateway.events,
    sources,
    ping: async () => {},
    limits: defaultLimits(),
    corsOrigins: [],
    graphiql: false,
    access: { config: accessConfig() },
  });
  return {
    sources,
    execute: (query: string, variables?: Record<string, unknown>) =>
      executeOn(app, query, variables),
  };
}

const STORY = /* GraphQL */ `
  query Story {
    policyDecision(slug: "us-bis-2026-01-13-h200-license-review-policy") {
      slug
      title
      federalRegisterDocument {
        documentNumber title type publicationDate effectiveOn citation htmlUrl pdfUrl
        agencies { name slug }
        source { source stale fetchedAt }
      }
    }
    company(slug: "nvidia") {
      name
      financials {
        concept note
        revenue { fiscalYear fiscalPeriod periodEnd valueUsd form filedOn }
        source { source stale }
      }
      news(first: 5) { title url publishedAt source summary provenance { source stale } }
    }
    chip(slug: "h200") {
      name
      news(first: 10) { title publishedAt }
    }
  }
`;

describe('the joined story', () => {
  it('joins the decision with its Federal Register document, NVIDIA with its revenue, and news', async () => {
    const { data, errors, extensions } = await gateway.execute(STORY);
    expect(errors).toBeUndefined();
    const decision = data.policyDecision;
    expect(decision.title).toBe(
      'Revision to License Review Policy for Advanced Computing Commodities',
    );
    expect(decision.federalRegisterDocument).toMatchObject({
      documentNumber: '2026-00789',
      title: 'Revision to License Review Policy for Advanced Computing Commodities',
      type: 'Rule',
      publicationDate: '2026-01-15',
      effectiveOn: '2026-01-15',
      citation: '91 FR 1684',
      pdfUrl: 'https://www.govinfo.gov/content/pkg/FR-2026-01-15/pdf/2026-00789.pdf',
      agencies: [
        { name: 'Commerce Department', slug: 'commerce-department' },
        { name: 'Industry and Security Bureau', slug: 'industry-and-security-bureau' },
      ],
      source: { source: 'federal-register', stale: false },
    });
    expect(Date.parse(decision.federalRegisterDocument.source.fetchedAt)).not.toBeNaN();

    const financials = data.company.financials;
    expect(financials.concept).toBe('us-gaap:Revenues');
    // Annual only (the 10-Q quarter is left out), each year as first reported, newest first.
    expect(financials.revenue).toEqual([
      {
        fiscalYear: 2025,
        fiscalPeriod: 'FY',
        periodEnd: '2025-01-26',
        valueUsd: '130497000000',
        form: '10-K',
        filedOn: '2025-02-26',
      },
      {
        fiscalYear: 2024,
        fiscalPeriod: 'FY',
        periodEnd: '2024-01-28',
        valueUsd: '60922000000',
        form: '10-K',
        filedOn: '2024-02-21',
      },
      {
        fiscalYear: 2023,
        fiscalPeriod: 'FY',
        periodEnd: '2023-01-29',
        valueUsd: '26974000000',
        form: '10-K',
        filedOn: '2023-02-24',
      },
    ]);
    expect(financials.source).toEqual({ source: 'sec-edgar', stale: false });

    // Nvidia by name in title or summary, newest first, HTML stripped, Atom and RSS merged.
    expect(data.company.news.map((item: any) => item.title)).toEqual([
      'ByteDance, Alibaba and Tencent line up H200 orders',
      'Customs told to stop H200 shipments at the border',
      'Washington approves Nvidia H200 sales to China with a 25% revenue share',
    ]);
    expect(data.company.news[2]).toMatchObject({
      url: 'https://news.example.com/2025/12/08/h200-approval',
      publishedAt: '2025-12-08T18:30:00.000Z',
      source: 'Chip Policy Wire',
      summary:
        "The White House cleared Nvidia's H200 for approved customers in China & took a 25% cut.",
      provenance: { source: 'news', stale: false },
    });
    expect(data.company.news[0].source).toBe('Export Control Digest');
    // "H200" matches whole words only: the H20 item is not an H200 item.
    expect(data.chip.news).toEqual([
      {
        title: 'ByteDance, Alibaba and Tencent line up H200 orders',
        publishedAt: '2026-01-28T08:00:00.000Z',
      },
      {
        title: 'Customs told to stop H200 shipments at the border',
        publishedAt: '2026-01-14T09:00:00.000Z',
      },
      {
        title: 'Washington approves Nvidia H200 sales to China with a 25% revenue share',
        publishedAt: '2025-12-08T18:30:00.000Z',
      },
    ]);

    const sources = (extensions as any).sources as any[];
    expect(sources.map((entry) => [entry.source, entry.resource, entry.stale])).toEqual(
      expect.arrayContaining([
        ['federal-register', 'documents/2026-00789', false],
        ['sec-edgar', 'companyfacts/CIK0001045810', false],
        ['news', `${upstream.url}/news/chips.xml`, false],
        ['news', `${upstream.url}/news/policy.atom`, false],
      ]),
    );
    expect(sources).toHaveLength(4);
  });

  it('picks the us-gaap concept with the latest data; IFRS filers and non-filers get a note', async () => {
    const { data, errors } = await gateway.execute(/* GraphQL */ `{
      amd: company(slug: "amd") { financials { concept revenue { periodEnd valueUsd } note } }
      tsmc: company(slug: "tsmc") { financials { concept revenue { periodEnd } note source { source } } }
      huawei: company(slug: "huawei") { financials { concept revenue { periodEnd } note source { source } } }
    }`);
    expect(errors).toBeUndefined();
    expect(data.amd.financials.concept).toBe(
      'us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax',
    );
    expect(data.amd.financials.revenue).toEqual([
      { periodEnd: '2024-12-28', valueUsd: '25785000000' },
      { periodEnd: '2023-12-30', valueUsd: '22680000000' },
    ]);
    expect(data.tsmc.financials).toMatchObject({
      concept: null,
      revenue: [],
      source: { source: 'sec-edgar' },
    });
    expect(data.tsmc.financials.note).toMatch(/IFRS \(ifrs-full\)/);
    expect(data.huawei.financials).toMatchObject({ concept: null, revenue: [], source: null });
    expect(data.huawei.financials.note).toMatch(/does not file with the SEC/);
    // The SEC saw our declared User-Agent on every call, and the padded CIK.
    const secCalls = upstream.log.filter((entry) => entry.path.startsWith('/sec/'));
    expect(secCalls.map((entry) => entry.path).sort()).toEqual([
      '/sec/api/xbrl/companyfacts/CIK0000002488.json',
      '/sec/api/xbrl/companyfacts/CIK0001046179.json',
    ]);
    expect(
      secCalls.every(
        (entry) => entry.headers['user-agent'] === 'chipgate-tests ops@chipgate.example',
      ),
    ).toBe(true);
  });

  it('searches the register live with a forward cursor', async () => {
    const query = /* GraphQL */ `query ($after: String) {
      federalRegisterDocuments(filter: { type: [RULE], from: "2023-01-01" }, first: 2, after: $after) {
        totalCount
        edges { node { documentNumber publicationDate } }
        pageInfo { hasNextPage endCursor }
        source { source }
      }
    }`;
    const first = await gateway.execute(query);
    expect(first.errors).toBeUndefined();
    const page1 = first.data.federalRegisterDocuments;
    expect(page1.totalCount).toBe(6);
    expect(page1.edges.map((e: any) => e.node.documentNumber)).toEqual([
      '2026-00789',
      '2025-00711',
    ]);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const second = await gateway.execute(query, { after: page1.pageInfo.endCursor });
    expect(
      second.data.federalRegisterDocuments.edges.map((e: any) => e.node.documentNumber),
    ).toEqual(['2025-00636', '2024-28270']);
    const bad = await gateway.execute(query, { after: 'bm90LWEtY3Vyc29y' });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('upstream calls', () => {
  it('20 decisions with documents make one Federal Register call; again within the TTL, none', async () => {
    const extra = Array.from({ length: 14 }, (_, i) => `2025-${String(90001 + i)}`);
    for (const number of extra) {
      upstream.documents.set(
        number,
        bisDocument({
          document_number: number,
          title: `Fixture rule ${number}`,
          publication_date: '2025-06-01',
        }),
      );
    }
    await gateway.database.db.insert(policyDecisions).values(
      extra.map((number) => ({
        slug: `test-fr-${number}`,
        title: `Test decision ${number}`,
        jurisdiction: 'US',
        authority: 'BIS',
        kind: 'EXPORT_RULE' as const,
        status: 'IN_EFFECT' as const,
        announcedOn: '2025-06-01',
        federalRegisterDocumentNumber: number,
        confidence: 'VERIFIED' as const,
      })),
    );
    const { execute } = appWith(upstreamSourcesConfig(upstream));
    const query = /* GraphQL */ `{
      policyDecisions(first: 100, filter: { jurisdiction: ["US"] }) {
        edges { node { federalRegisterDocumentNumber federalRegisterDocument { documentNumber } } }
      }
    }`;
    const first = await execute(query);
    expect(first.errors).toBeUndefined();
    const withDocument = first.data.policyDecisions.edges.filter(
      (e: any) => e.node.federalRegisterDocumentNumber,
    );
    expect(withDocument).toHaveLength(20);
    for (const edge of withDocument) {
      expect(edge.node.federalRegisterDocument.documentNumber).toBe(
        edge.node.federalRegisterDocumentNumber,
      );
    }
    expect(upstream.calls('/fr/')).toBe(1);
    expect(upstream.log[0]?.path).toMatch(/^\/fr\/documents\/[0-9-]+(,[0-9-]+){19}\.json\?/);

    const again = await execute(query);
    expect(again.errors).toBeUndefined();
    expect(upstream.calls('/fr/')).toBe(1);
  });
});

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

const PARTIAL = /* GraphQL */ `{
  policyDecision(slug: "us-bis-2026-01-13-h200-license-review-policy") {
    title
    federalRegisterDocument { documentNumber source { stale } }
  }
  company(slug: "nvidia") { name financials { concept } }
}`;

/** Asserts the partial response: the document null with `code`, everything else intact. */
function expectPartial(result: Response, code: string) {
  expect(result.data?.policyDecision).toEqual({
    title: 'Revision to License Review Policy for Advanced Computing Commodities',
    federalRegisterDocument: null,
  });
  expect(result.data?.company).toEqual({
    name: 'NVIDIA Corporation',
    financials: { concept: 'us-gaap:Revenues' },
  });
  expect(result.errors).toHaveLength(1);
  expect(result.errors?.[0]).toMatchObject({
    path: ['policyDecision', 'federalRegisterDocument'],
    extensions: { code, source: 'federal-register' },
  });
}

describe('failure is partial', () => {
  it('a slow source: null for its field after the deadline, the rest intact', async () => {
    upstream.misbehave('/fr/', { kind: 'hang' });
    const { execute } = appWith(
      upstreamSourcesConfig(upstream, { CHIPGATE_SOURCE_TIMEOUT_MS: '300' }),
    );
    const result = await execute(PARTIAL);
    expectPartial(result, 'SOURCE_UNAVAILABLE');
    expect(result.errors?.[0]?.message).toMatch(/within 300 ms/);
  });

  it('500: retried within the deadline, then SOURCE_UNAVAILABLE', async () => {
    upstream.misbehave('/fr/', { kind: 'status', status: 500 });
    const { execute } = appWith(upstreamSourcesConfig(upstream, { CHIPGATE_SOURCE_RETRIES: '2' }));
    expectPartial(await execute(PARTIAL), 'SOURCE_UNAVAILABLE');
    expect(upstream.calls('/fr/')).toBe(3);
  });

  it('a 500 that recovers on retry answers normally', async () => {
    upstream.misbehave('/fr/', { kind: 'status', status: 503, times: 1 });
    const { execute } = appWith(upstreamSourcesConfig(upstream));
    const result = await execute(PARTIAL);
    expect(result.errors).toBeUndefined();
    expect(result.data?.policyDecision.federalRegisterDocument.documentNumber).toBe('2026-00789');
    expect(upstream.calls('/fr/')).toBe(2);
  });

  it('429 with a Retry-After past the deadline fails at once; one within it is honoured', async () => {
    upstream.misbehave('/fr/', { kind: 'status', status: 429, retryAfter: '30' });
    const late = appWith(upstreamSourcesConfig(upstream));
    const result = await late.execute(PARTIAL);
    expectPartial(result, 'SOURCE_UNAVAILABLE');
    expect(result.errors?.[0]?.message).toMatch(/retry after 30 s/);
    expect(upstream.calls('/fr/')).toBe(1);

    upstream.reset();
    upstream.misbehave('/fr/', { kind: 'status', status: 429, retryAfter: '0', times: 1 });
    const soon = appWith(upstreamSourcesConfig(upstream));
    const ok = await soon.execute(PARTIAL);
    expect(ok.errors).toBeUndefined();
    expect(upstream.calls('/fr/')).toBe(2);
  });

  it('malformed JSON: SOURCE_INVALID_RESPONSE', async () => {
    upstream.misbehave('/fr/', { kind: 'malformed' });
    const { execute } = appWith(upstreamSourcesConfig(upstream));
    const result = await execute(PARTIAL);
    expectPartial(result, 'SOURCE_INVALID_RESPONSE');
    expect(result.errors?.[0]?.message).toMatch(/malformed JSON/);
  });

  it('a changed format: SOURCE_INVALID_RESPONSE, not wrong data', async () => {
    const original = upstream.documents.get('2026-00789');
    upstream.documents.set('2026-00789', {
      ...(original as any),
      publication_date: 'January 15, 2026',
    });
    try {
      const { execute } = appWith(upstreamSourcesConfig(upstream));
      expectPartial(await execute(PARTIAL), 'SOURCE_INVALID_RESPONSE');
    } finally {
      if (original) upstream.documents.set('2026-00789', original);
    }
  });

  it('an oversized body is cut off: SOURCE_INVALID_RESPONSE', async () => {
    upstream.misbehave('/fr/', { kind: 'oversized', bytes: 200_000 });
    const { execute } = appWith(
      upstreamSourcesConfig(upstream, { CHIPGATE_SOURCE_MAX_BYTES: '65536' }),
    );
    const result = await execute(PARTIAL);
    expectPartial(result, 'SOURCE_INVALID_RESPONSE');
    expect(result.errors?.[0]?.message).toMatch(/more than 65536 bytes/);
  });

  it('refused connections: SOURCE_UNAVAILABLE', async () => {
    const closed = await startUpstream();
    await closed.close();
    const config = upstreamSourcesConfig(upstream);
    config.federalRegister.baseUrl = `${closed.url}/fr`;
    const { execute } = appWith(config);
    const result = await execute(PARTIAL);
    expectPartial(result, 'SOURCE_UNAVAILABLE');
    expect(result.errors?.[0]?.message).toMatch(/network error/);
  });

  it('the breaker stops calling a dead source, and lets a call through after the cool-down', async () => {
    upstream.misbehave('/fr/', { kind: 'status', status: 500 });
    const { execute, sources } = appWith(
      upstreamSourcesConfig(upstream, {
        CHIPGATE_SOURCE_RETRIES: '0',
        CHIPGATE_SOURCE_BREAKER_THRESHOLD: '2',
        CHIPGATE_SOURCE_BREAKER_COOLDOWN_MS: '3600000',
      }),
    );
    expectPartial(await execute(PARTIAL), 'SOURCE_UNAVAILABLE');
    expectPartial(await execute(PARTIAL), 'SOURCE_UNAVAILABLE');
    expect(upstream.calls('/fr/')).toBe(2);
    expect(sources.all[0]?.breakerState).toBe('open');
    const open = await execute(PARTIAL);
    expectPartial(open, 'SOURCE_UNAVAILABLE');
    expect(open.errors?.[0]?.message).toMatch(/circuit breaker open/);
    expect(upstream.calls('/fr/')).toBe(2);

    // The source recovers; after the cool-down (cockatiel reads Date.now) one call goes
    // through, succeeds, and closes the breaker.
    upstream.reset();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_001);
    try {
      const recovered = await execute(PARTIAL);
      expect(recovered.errors).toBeUndefined();
      expect(upstream.calls('/fr/')).toBe(1);
      expect(sources.all[0]?.breakerState).toBe('closed');
    } finally {
      clock.mockRestore();
    }
  });
});

describe('cache', () => {
  it('serves a stale value when the upstream fails after the TTL, and says so', async () => {
    let offset = 0;
    const config = upstreamSourcesConfig(upstream);
    config.clock = { now: () => performance.now() + offset };
    const { execute } = appWith(config);
    const fresh = await execute(PARTIAL);
    expect(fresh.data?.policyDecision.federalRegisterDocument).toEqual({
      documentNumber: '2026-00789',
      source: { stale: false },
    });
    offset += config.federalRegister.ttlMs + 1;
    upstream.misbehave('/fr/', { kind: 'status', status: 500 });
    const stale = await execute(PARTIAL);
    expect(stale.errors).toBeUndefined();
    expect(stale.data?.policyDecision.federalRegisterDocument).toEqual({
      documentNumber: '2026-00789',
      source: { stale: true },
    });
    expect((stale.extensions as any).sources).toContainEqual(
      expect.objectContaining({
        source: 'federal-register',
        resource: 'documents/2026-00789',
        stale: true,
      }),
    );
    expect(upstream.calls('/fr/')).toBe(4);
  });

  it('refreshes an expired feed with a conditional GET; a 304 keeps the items', async () => {
    let offset = 0;
    const config = upstreamSourcesConfig(upstream);
    config.clock = { now: () => performance.now() + offset };
    const { execute } = appWith(config);
    const query = /* GraphQL */ `{ chip(slug: "ascend-910c") { news { title url provenance { stale } } } }`;
    const first = await execute(query);
    expect(first.data?.chip.news).toEqual([
      {
        title: 'Huawei ramps Ascend 910C output',
        url: `${upstream.url}/2025/09/30/ascend-910c`,
        provenance: { stale: false },
      },
    ]);
    offset += config.news.ttlMs + 1;
    const second = await execute(query);
    expect(second.data?.chip.news).toEqual(first.data?.chip.news);
    const atom = upstream.log.filter((entry) => entry.path === '/news/policy.atom');
    expect(atom.map((entry) => entry.status)).toEqual([200, 304]);
    expect(atom[1]?.headers['if-none-match']).toMatch(/^"/);
  });
});

describe('news feeds', () => {
  it('decodes a feed in the encoding its XML declaration names', async () => {
    const { execute } = appWith(
      upstreamSourcesConfig(upstream, { CHIPGATE_NEWS_FEEDS: `${upstream.url}/news/latin1.xml` }),
    );
    const result = await execute(/* GraphQL */ `{
      company(slug: "samsung") { news { title summary publishedAt source } }
    }`);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.news).toEqual([
      {
        title: 'Samsung liefert HBM3E für Nvidia - Qualifizierung abgeschlossen',
        summary: 'Größere Stückzahlen ab dem ersten Quartal.',
        publishedAt: '2025-12-19T09:00:00.000Z',
        source: 'Halbleiter-Nachrichten',
      },
    ]);
  });
});

describe('SEC company facts', () => {
  it('a malformed fact is left out and reported; the rest of the series stands', async () => {
    const facts = COMPANY_FACTS['1045810'] as {
      facts: { 'us-gaap': { Revenues: { units: { USD: unknown[] } } } };
    };
    const usd = facts.facts['us-gaap'].Revenues.units.USD;
    const { execute } = appWith(upstreamSourcesConfig(upstream));
    const before = await execute(NVIDIA_REVENUE);
    usd.push({ end: 'not a date', val: 'lots', form: '10-K' });
    try {
      const { execute: executeCold } = appWith(upstreamSourcesConfig(upstream));
      const result = await executeCold(NVIDIA_REVENUE);
      expect(result.errors).toBeUndefined();
      expect(result.data?.company.financials).toEqual(before.data?.company.financials);
      expect(result.data?.company.financials.revenue.length).toBeGreaterThan(1);
      expect(result.extensions?.sources).toEqual([
        expect.objectContaining({
          source: 'sec-edgar',
          resource: 'companyfacts/CIK0001045810',
          error: 'SOURCE_INVALID_RESPONSE',
          skipped: 1,
          stale: false,
        }),
      ]);
    } finally {
      usd.pop();
    }
  });
});

describe('rate limit', () => {
  it('spaces the calls of a source by its rate', async () => {
    const { execute } = appWith(upstreamSourcesConfig(upstream, { CHIPGATE_SEC_RATE: '4' }));
    const result = await execute(/* GraphQL */ `{
      nvidia: company(slug: "nvidia") { financials { concept } }
      amd: company(slug: "amd") { financials { concept } }
      intel: company(slug: "intel") { financials { concept } }
    }`);
    expect(result.errors).toBeUndefined();
    const arrivals = upstream.log
      .filter((entry) => entry.path.startsWith('/sec/'))
      .map((e) => e.at);
    expect(arrivals).toHaveLength(3);
    // 4 calls/s: started at least 250 ms apart. Arrival times also hold the first call's TCP
    // connect (later calls reuse the connection), so the first gap may look shorter by that;
    // the two later ones cannot (lower bounds, which no slow machine can break).
    expect((arrivals[2] ?? 0) - (arrivals[1] ?? 0)).toBeGreaterThanOrEqual(240);
    expect((arrivals[2] ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(400);
  });
});

describe('configuration', () => {
  it('without an SEC User-Agent the SEC is off: SOURCE_NOT_CONFIGURED on the field only', async () => {
    const config = upstreamSourcesConfig(upstream);
    config.sec.userAgent = undefined;
    const { execute, sources } = appWith(config);
    expect(sources.disabled.map((entry) => entry.source)).toEqual(['sec-edgar']);
    const result = await execute(PARTIAL);
    expect(result.data?.company).toEqual({ name: 'NVIDIA Corporation', financials: null });
    expect(result.data?.policyDecision.federalRegisterDocument.documentNumber).toBe('2026-00789');
    expect(result.errors?.[0]).toMatchObject({
      path: ['company', 'financials'],
      extensions: { code: 'SOURCE_NOT_CONFIGURED', source: 'sec-edgar' },
    });
    expect(upstream.calls('/sec/')).toBe(0);
  });

  it('a broken feed fails only when every feed fails', async () => {
    upstream.misbehave('/news/chips.xml', { kind: 'status', status: 500 });
    const { execute } = appWith(upstreamSourcesConfig(upstream, { CHIPGATE_SOURCE_RETRIES: '0' }));
    const partial = await execute(`{ company(slug: "nvidia") { news { title } } }`);
    expect(partial.errors).toBeUndefined();
    expect(partial.data?.company.news).toEqual([
      { title: 'ByteDance, Alibaba and Tencent line up H200 orders' },
    ]);
    expect((partial.extensions as any).sources).toContainEqual({
      source: 'news',
      resource: `${upstream.url}/news/chips.xml`,
      error: 'SOURCE_UNAVAILABLE',
    });
    upstream.misbehave('/news/', { kind: 'malformed' });
    const { execute: cold } = appWith(
      upstreamSourcesConfig(upstream, { CHIPGATE_SOURCE_RETRIES: '0' }),
    );
    const failed = await cold(`{ company(slug: "nvidia") { name news { title } } }`);
    expect(failed.data?.company).toEqual({ name: 'NVIDIA Corporation', news: null });
    expect(failed.errors?.[0]?.extensions).toMatchObject({ source: 'news' });
  });
});

describe('the gateway process', () => {
  it('builds the sources from the environment, warns about the ones that are off, and answers over HTTP', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const gateway = await startInProcessGateway(
      {
        CHIPGATE_FEDERAL_REGISTER_URL: `${upstream.url}/fr`,
        CHIPGATE_NEWS_FEEDS: `${upstream.url}/news/chips.xml`,
      },
      log,
    );
    try {
      const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40);
      expect(warnings).toEqual([
        expect.objectContaining({
          source: 'sec-edgar',
          msg: expect.stringMatching(/CHIPGATE_SEC_USER_AGENT is not set/),
        }),
      ]);
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: PARTIAL }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as any;
      expect(body.data.policyDecision.federalRegisterDocument.documentNumber).toBe('2026-00789');
      expect(body.data.company).toEqual({ name: 'NVIDIA Corporation', financials: null });
      expect(body.errors.map((error: any) => error.extensions)).toEqual([
        { code: 'SOURCE_NOT_CONFIGURED', source: 'sec-edgar' },
      ]);
      expect(body.extensions.sources).toEqual([
        expect.objectContaining({
          source: 'federal-register',
          resource: 'documents/2026-00789',
          stale: false,
        }),
      ]);
    } finally {
      await gateway.stop();
    }
  });
});

/** An RSS 2.0 feed with these items (raw XML) under a channel linking to `channelLink`. */
const rss = (items: string, channelLink = 'https://wire.example.com/') =>
  `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title><link>${channelLink}</link>${items}</channel></rss>`;

const rssEntry = (title: string, link: string, day: number) =>
  `<item><title>${title}</title><link>${link}</link><pubDate>${new Date(Date.UTC(2025, 11, day)).toUTCString()}</pubDate></item>`;

/** An app reading only the named extra feed of the fixture upstream. */
function feedApp(name: string, body: string | Buffer, vars: Record<string, string> = {}) {
  upstream.setFeed(name, body);
  return appWith(
    upstreamSourcesConfig(upstream, {
      CHIPGATE_NEWS_FEEDS: `${upstream.url}/news/${name}`,
      CHIPGATE_SOURCE_RETRIES: '0',
      ...vars,
    }),
  );
}

const NVIDIA_NEWS = `{ company(slug: "nvidia") { news(first: 50) { title url publishedAt } } }`;
const NVIDIA_REVENUE = `{ company(slug: "nvidia") { financials { concept revenue { periodEnd valueUsd } } } }`;

describe('feeds in the wild', () => {
  it('an invalid numeric character reference becomes U+FFFD; the feed still answers', async () => {
    const { execute } = feedApp(
      'bad-reference.xml',
      rss(
        rssEntry('Nvidia &#99999999;', 'https://wire.example.com/a', 2) +
          rssEntry('Nvidia &#x110000; again', 'https://wire.example.com/b', 1),
      ),
    );
    const result = await execute(NVIDIA_NEWS);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.news.map((item: { title: string }) => item.title)).toEqual([
      'Nvidia \uFFFD',
      'Nvidia \uFFFD again',
    ]);
  });

  it('a feed larger than the news cap (5 MiB by default) is refused without parsing', async () => {
    expect(loadEnv({}).CHIPGATE_NEWS_MAX_BYTES).toBe(5_242_880);
    const item = rssEntry('Nvidia filler', 'https://wire.example.com/filler', 1);
    const { execute } = feedApp('huge.xml', rss(item.repeat(Math.ceil(5_300_000 / item.length))));
    const result = await execute(NVIDIA_NEWS);
    expect(result.data?.company.news).toBeNull();
    expect(result.errors?.[0]).toMatchObject({
      extensions: { code: 'SOURCE_INVALID_RESPONSE', source: 'news' },
    });
    expect(result.errors?.[0]?.message).toMatch(/more than 5242880 bytes/);
  });

  it('reads only the first CHIPGATE_NEWS_MAX_ITEMS items of a feed (500 by default)', async () => {
    expect(loadEnv({}).CHIPGATE_NEWS_MAX_ITEMS).toBe(500);
    const items = [5, 4, 3]
      .map((day) => rssEntry(`Nvidia day ${day}`, `https://wire.example.com/${day}`, day))
      .join('');
    // Past the cap the document is not even parsed: broken XML there does not matter.
    const { execute } = feedApp(
      'many.xml',
      rss(`${items}${rssEntry('Nvidia day 2', 'https://wire.example.com/2', 2)}<item><title>`),
      { CHIPGATE_NEWS_MAX_ITEMS: '3' },
    );
    const result = await execute(NVIDIA_NEWS);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.news.map((item: { title: string }) => item.title)).toEqual([
      'Nvidia day 5',
      'Nvidia day 4',
      'Nvidia day 3',
    ]);
  });

  it('decodes every HTML entity, also when the feed escaped it once more (&amp;rsquo;)', async () => {
    const { execute } = feedApp(
      'entities.xml',
      rss(
        rssEntry('Nvidia&amp;rsquo;s H200 &amp;mdash; approved', 'https://wire.example.com/e', 2) +
          rssEntry(
            'Nvidia &amp;hellip; &amp;eacute;t&amp;eacute; &amp;nbsp;!',
            'https://wire.example.com/f',
            1,
          ),
      ),
    );
    const result = await execute(NVIDIA_NEWS);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.news.map((item: { title: string }) => item.title)).toEqual([
      'Nvidia\u2019s H200 \u2014 approved',
      'Nvidia \u2026 \u00e9t\u00e9 !',
    ]);
  });

  it('guid permalinks, duplicates, HTML in titles and links relative to the channel', async () => {
    const date = (day: number) => new Date(Date.UTC(2025, 11, day)).toUTCString();
    const { execute } = feedApp(
      'wild.xml',
      rss(
        `<item><title>Nvidia <b>H200</b> &amp; more</title><link>2025/h200</link><pubDate>${date(5)}</pubDate></item>` +
          `<item><title>Nvidia guid only</title><guid>https://wire.example.com/guid</guid><pubDate>${date(4)}</pubDate></item>` +
          `<item><title>Nvidia opaque guid</title><guid isPermaLink="false">urn:x:1</guid><pubDate>${date(3)}</pubDate></item>` +
          `<item><title>Nvidia duplicate</title><link>https://wire.example.com/news/2025/h200</link><pubDate>${date(2)}</pubDate></item>`,
        'https://wire.example.com/news/',
      ),
    );
    const result = await execute(NVIDIA_NEWS);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.news).toEqual([
      {
        title: 'Nvidia H200 & more',
        url: 'https://wire.example.com/news/2025/h200',
        publishedAt: '2025-12-05T00:00:00.000Z',
      },
      {
        title: 'Nvidia guid only',
        url: 'https://wire.example.com/guid',
        publishedAt: '2025-12-04T00:00:00.000Z',
      },
    ]);
  });
});

const SEARCH = /* GraphQL */ `query ($after: String, $agency: String) {
  federalRegisterDocuments(filter: { agency: $agency, type: [RULE], from: "2023-01-01" }, first: 2, after: $after) {
    edges { cursor node { documentNumber } }
    pageInfo { hasNextPage endCursor }
  }
}`;

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
    const after = Buffer.from('FederalRegister:9999').toString('base64');
    const result = await execute(SEARCH, { after });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/first 10000 results/);
    expect(upstream.calls('/fr/')).toBe(0);
  });
});

describe('4xx answers', () => {
  it('a search the register refuses (400) is BAD_USER_INPUT, not retried, and leaves the breaker closed', async () => {
    const { execute, sources } = appWith(
      upstreamSourcesConfig(upstream, {
        CHIPGATE_SOURCE_RETRIES: '2',
        CHIPGATE_SOURCE_BREAKER_THRESHOLD: '2',
      }),
    );
    for (let i = 0; i < 3; i += 1) {
      const result = await execute(SEARCH, { agency: 'bureau-of-industry-and-security' });
      expect(result.data?.federalRegisterDocuments).toBeNull();
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0]?.message).toMatch(
        /refused this search as invalid \(it said: bureau-of-industry-and-security is not a valid agency\)\..*industry-and-security-bureau/,
      );
      expect((result.extensions as any).sources).toEqual([
        { source: 'federal-register', resource: 'documents.json', error: 'BAD_USER_INPUT' },
      ]);
    }
    expect(upstream.calls('/fr/')).toBe(3);
    expect(sources.all[0]?.breakerState).toBe('closed');
    const ok = await execute(PARTIAL);
    expect(ok.errors).toBeUndefined();
  });

  it('a wrong base URL (HTML 404 everywhere) is an error, never "no data", and is not cached', async () => {
    const { execute, sources } = appWith(
      upstreamSourcesConfig(upstream, {
        CHIPGATE_FEDERAL_REGISTER_URL: `${upstream.url}/wrong/fr`,
        CHIPGATE_SEC_URL: `${upstream.url}/wrong/sec`,
        CHIPGATE_SOURCE_BREAKER_THRESHOLD: '1',
      }),
    );
    for (let i = 0; i < 2; i += 1) {
      const result = await execute(PARTIAL);
      expect(result.data?.policyDecision.federalRegisterDocument).toBeNull();
      expect(result.data?.company).toEqual({ name: 'NVIDIA Corporation', financials: null });
      // Either may fail first: compare in path order.
      expect(
        result.errors?.map((error) => [error.path?.join('.'), error.extensions?.code]).sort(),
      ).toEqual([
        ['company.financials', 'SOURCE_UNAVAILABLE'],
        ['policyDecision.federalRegisterDocument', 'SOURCE_UNAVAILABLE'],
      ]);
      for (const error of result.errors ?? []) {
        expect(error.message).toMatch(
          /answered HTTP 404 for \/wrong\/.* is the source's base URL right\?$/,
        );
      }
    }
    // Asked again on the second request (nothing cached), one call each, breakers closed.
    expect(upstream.calls('/wrong/fr/')).toBe(2);
    expect(upstream.calls('/wrong/sec/')).toBe(2);
    expect(sources.all.map((source) => source.breakerState)).toEqual([
      'closed',
      'closed',
      'closed',
    ]);
  });

  it("the APIs' own not-found answers still mean no document and no facts", async () => {
    const { execute } = appWith(upstreamSourcesConfig(upstream));
    const result = await execute(/* GraphQL */ `{
      company(slug: "intel") { financials { concept revenue { fiscalYear } note } }
    }`);
    expect(result.errors).toBeUndefined();
    expect(result.data?.company.financials).toEqual({
      concept: null,
      revenue: [],
      note: 'EDGAR has no XBRL company facts for CIK 0000050863.',
    });
    const client = appWith(upstreamSourcesConfig(upstream)).sources.federalRegister;
    const [missing] = (await client?.documents(['2099-99999'])) ?? [];
    expect(missing).toMatchObject({ value: null, info: { stale: false } });
  });
});

describe('source configuration checks', () => {
  /** The issues `loadEnv` reports for these variables. */
  const issuesOf = (vars: Record<string, string>) => {
    try {
      loadEnv(vars);
      return [];
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).issues;
    }
  };

  it('refuses an SEC User-Agent without a contact e-mail address', () => {
    expect(issuesOf({ CHIPGATE_SEC_USER_AGENT: 'chipgate research' })).toEqual([
      'CHIPGATE_SEC_USER_AGENT="chipgate research": expected "<app or company name> <contact email>" with a contact e-mail address',
    ]);
    expect(issuesOf({ CHIPGATE_SEC_USER_AGENT: 'Example Corp ops@example.com' })).toEqual([]);
  });

  it('refuses feed lists separated by spaces and values that list no feed', () => {
    expect(
      issuesOf({ CHIPGATE_NEWS_FEEDS: 'https://a.example/feed.xml https://b.example/feed.xml' }),
    ).toEqual([
      'CHIPGATE_NEWS_FEEDS="https://a.example/feed.xml https://b.example/feed.xml": expected feed URLs separated by commas, not spaces',
    ]);
    expect(issuesOf({ CHIPGATE_NEWS_FEEDS: ' , ,' })).toEqual([
      'CHIPGATE_NEWS_FEEDS=" , ,": expected comma-separated http(s) feed URLs; the value lists none',
    ]);
    expect(issuesOf({ CHIPGATE_NEWS_FEEDS: 'feed.xml' })).toEqual([
      'CHIPGATE_NEWS_FEEDS="feed.xml": expected comma-separated absolute http(s) feed URLs',
    ]);
    expect(
      loadEnv({ CHIPGATE_NEWS_FEEDS: 'https://a.example/1, https://b.example/2' })
        .CHIPGATE_NEWS_FEEDS,
    ).toEqual(['https://a.example/1', 'https://b.example/2']);
  });

  it('refuses base URLs with a #fragment or credentials', () => {
    expect(issuesOf({ CHIPGATE_FEDERAL_REGISTER_URL: 'https://fr.example/api/v1#docs' })).toEqual([
      'CHIPGATE_FEDERAL_REGISTER_URL="https://fr.example/api/v1#docs": expected a base URL without a #fragment',
    ]);
    expect(issuesOf({ CHIPGATE_SEC_URL: 'https://user:secret@sec.example' })).toEqual([
      'CHIPGATE_SEC_URL=(value hidden): expected a base URL without user:password@ credentials',
    ]);
  });
});

describe('redirects', () => {
  it('the APIs follow redirects on their own host only: the SEC User-Agent never goes elsewhere', async () => {
    const elsewhere = upstream.url.replace('127.0.0.1', 'localhost');
    upstream.misbehave('/sec/', { kind: 'redirect', origin: elsewhere });
    upstream.misbehave('/fr/', { kind: 'redirect', origin: upstream.url, times: 1 });
    const { execute } = appWith(upstreamSourcesConfig(upstream));
    const result = await execute(PARTIAL);
    expect(result.data?.policyDecision.federalRegisterDocument.documentNumber).toBe('2026-00789');
    expect(result.data?.company).toEqual({ name: 'NVIDIA Corporation', financials: null });
    expect(result.errors?.[0]).toMatchObject({
      path: ['company', 'financials'],
      extensions: { code: 'SOURCE_UNAVAILABLE', source: 'sec-edgar' },
    });
    expect(result.errors?.[0]?.message).toBe(
      `SEC EDGAR redirected to another host (${elsewhere}), which chipgate does not follow; check the source's base URL.`,
    );
    // One SEC call (the redirect, not followed; not retried); the register's redirect followed.
    expect(upstream.calls('/sec/')).toBe(1);
    expect(upstream.calls('/fr/')).toBe(2);
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

describe('feed text', () => {
  it('turns HTML into text with a bounded scan: no quadratic patterns, invalid characters replaced', () => {
    expect(stripHtml('Nvidia <b>H200</b> &amp; more')).toBe('Nvidia H200 & more');
    expect(stripHtml('<p>One</p><p>Two</p>a<br/>b')).toBe('One Two a b');
    expect(stripHtml('before<script>var x = "<b>";</script>after')).toBe('before after');
    expect(stripHtml('1 < 2 and 3')).toBe('1 < 2 and 3');
    // NUL and lone surrogates would break strict JSON clients; beyond Unicode is no character.
    expect(stripHtml('x &#0; &#xD800; &#99999999; y')).toBe('x \uFFFD \uFFFD \uFFFD y');
    // Thousands of unclosed tags (a hostile or broken feed) are simply dropped.
    expect(stripHtml(`text${'<script>'.repeat(100_000)}`)).toBe('text');
    expect(stripHtml(`text ${'<style>x'.repeat(100_000)}`)).toBe('text');
  });
});
