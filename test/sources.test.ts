/**
 * External sources against the fixture upstream (a real HTTP server on 127.0.0.1): the joined
 * story, upstream call counts (batching, caching), SEC company facts, the rate limit,
 * SOURCE_NOT_CONFIGURED and the source configuration checks, and the gateway process building
 * its sources from the environment. Failure modes are in sources-failures.test.ts, news feeds
 * in sources-news.test.ts, the Federal Register client and search in
 * sources-federal-register.test.ts.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { policyDecisions } from '../src/db/schema.js';
import { ConfigError, loadEnv } from '../src/env.js';
import { startInProcessGateway } from './helpers/server.js';
import { appWith, gateway, PARTIAL, upstream, useSourcesTestbed } from './helpers/sources.js';
import { upstreamSourcesConfig } from './helpers/upstream.js';
import { bisDocument, COMPANY_FACTS } from './helpers/upstream-data.js';

useSourcesTestbed();

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

const NVIDIA_REVENUE = `{ company(slug: "nvidia") { financials { concept revenue { periodEnd valueUsd } } } }`;

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
