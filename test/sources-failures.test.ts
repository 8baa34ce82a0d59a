/**
 * Source failures against the fixture upstream: each failure mode (slow, 5xx, 429, malformed,
 * changed format, oversized, refused connections) as a partial response, the circuit breaker,
 * serve-stale-on-error and conditional GET, 4xx answers (refused searches, wrong base URLs,
 * the APIs' own not-found) and redirects.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  appWith,
  expectPartial,
  PARTIAL,
  SEARCH,
  upstream,
  useSourcesTestbed,
} from './helpers/sources.js';
import { startUpstream, upstreamSourcesConfig } from './helpers/upstream.js';

useSourcesTestbed();

describe('failure is partial', () => {
  it('a slow source: null for its field after the deadline, the rest intact', async () => {
    // The deadline applies to every source: the healthy SEC must answer within it too. So it is
    // set from how long the same query takes here and now with both sources healthy (a cold
    // app, as below), never below 300 ms: a loaded machine gets a longer one.
    const healthy = appWith(upstreamSourcesConfig(upstream));
    const started = performance.now();
    expect((await healthy.execute(PARTIAL)).errors).toBeUndefined();
    const baselineMs = performance.now() - started;
    const deadlineMs = Math.min(10_000, Math.max(300, Math.ceil(5 * baselineMs)));

    upstream.misbehave('/fr/', { kind: 'hang' });
    const { execute } = appWith(
      upstreamSourcesConfig(upstream, { CHIPGATE_SOURCE_TIMEOUT_MS: String(deadlineMs) }),
    );
    const before = performance.now();
    const result = await execute(PARTIAL);
    const elapsedMs = performance.now() - before;
    expectPartial(result, 'SOURCE_UNAVAILABLE');
    expect(result.errors?.[0]?.message).toContain(`within ${deadlineMs} ms`);
    // It waited for the deadline (timers may fire a little early), and not for the hang.
    expect(elapsedMs).toBeGreaterThanOrEqual(deadlineMs - 20);
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
