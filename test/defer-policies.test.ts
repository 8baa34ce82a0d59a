/**
 * Incremental delivery under the gateway's policies, over a real socket: source fields under
 * `@defer` arrive in their own payload when their source answers, and a source failure is
 * reported in that payload only; the operation limits and query cost judge the whole
 * operation, deferred parts included, before anything is sent; trusted documents may use
 * `@defer`; the response cache stores only the merged final result (never a partial one, nor
 * one whose source failed) and a hit answers it as one result; subscriptions send each event
 * whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentHash } from '../src/access/documents.js';
import { manifestFile, runDocuments } from './helpers/documents.js';
import { fetchPayloads, mergePayloads, type Payload } from './helpers/incremental.js';
import { createKey } from './helpers/keys.js';
import { type InProcessGateway, removeTempDirs, startInProcessGateway } from './helpers/server.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

let upstream: Upstream;
let gateway: InProcessGateway;

/** The configuration variables that point the sources at the fixture upstream. */
const sourceVars = (url: string) => ({
  CHIPGATE_FEDERAL_REGISTER_URL: `${url}/fr`,
  CHIPGATE_SEC_URL: `${url}/sec`,
  CHIPGATE_SEC_USER_AGENT: 'chipgate-tests ops@chipgate.example',
  CHIPGATE_NEWS_FEEDS: `${url}/news/chips.xml,${url}/news/policy.atom`,
  CHIPGATE_SOURCE_TIMEOUT_MS: '1000',
  CHIPGATE_FEDERAL_REGISTER_RATE: '1000',
  CHIPGATE_SEC_RATE: '1000',
  CHIPGATE_NEWS_RATE: '1000',
});

beforeAll(async () => {
  upstream = await startUpstream();
  gateway = await startInProcessGateway({
    ...sourceVars(upstream.url),
    CHIPGATE_RESPONSE_CACHE_TTL_S: '60',
    CHIPGATE_MAX_DEPTH: '8',
    CHIPGATE_MAX_COST: '5000',
    // A failure is one failed call, and failures never open the breaker here.
    CHIPGATE_SOURCE_RETRIES: '0',
    CHIPGATE_SOURCE_BREAKER_THRESHOLD: '1000',
  });
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
  removeTempDirs();
});

const STORE_AND_SOURCE = `{
  chip(slug: "h200") {
    name
    ... @defer(label: "news") { news(first: 2) { title } }
    designer { name ... @defer(label: "financials") { financials { concept } } }
  }
}`;

const incrementalParts = (payloads: Payload[]) => payloads.flatMap((p) => p.incremental ?? []);

describe('source fields under @defer', () => {
  it('the store part comes first; each source part in its own payload', async () => {
    upstream.reset();
    upstream.misbehave('/sec', { kind: 'delay', ms: 400 });
    const { payloads } = await fetchPayloads(gateway.url, STORE_AND_SOURCE);
    expect(payloads[0]).toEqual({
      data: { chip: { name: 'NVIDIA H200 (SXM)', designer: { name: 'NVIDIA Corporation' } } },
      hasNext: true,
    });
    const parts = incrementalParts(payloads);
    expect(parts.map((part) => part.label).sort()).toEqual(['financials', 'news']);
    // News answered at once; the SEC 400 ms later: they came in different payloads.
    const payloadOf = (label: string) =>
      payloads.findIndex((p) => p.incremental?.some((part) => part.label === label));
    expect(payloadOf('news')).toBeLessThan(payloadOf('financials'));
    const merged = mergePayloads(payloads) as Payload & { data: { chip: Record<string, any> } };
    expect(merged.errors).toBeUndefined();
    expect(merged.data.chip.news.length).toBeGreaterThan(0);
    expect(merged.data.chip.designer.financials.concept).toMatch(/^us-gaap:/);
    // The last payload names the sources the operation used.
    const sources = (payloads.at(-1)?.extensions?.sources ?? []) as { source: string }[];
    expect(new Set(sources.map((s) => s.source))).toEqual(new Set(['news', 'sec-edgar']));
  });

  it('a failing source is reported in its deferred payload only', async () => {
    upstream.reset();
    upstream.misbehave('/sec', { kind: 'status', status: 500 });
    // Another chip (AMD's): neither the source cache nor the response cache holds its parts.
    const query = STORE_AND_SOURCE.replace('h200', 'mi300x');
    const { status, payloads } = await fetchPayloads(gateway.url, query, {
      accept: 'text/event-stream',
    });
    expect(status).toBe(200);
    expect(payloads[0]?.errors).toBeUndefined();
    const parts = incrementalParts(payloads);
    const news = parts.find((part) => part.label === 'news');
    const financials = parts.find((part) => part.label === 'financials');
    expect(news?.errors).toBeUndefined();
    expect(financials?.data).toEqual({ financials: null });
    expect(financials?.errors?.map((e) => e.extensions?.code)).toEqual(['SOURCE_UNAVAILABLE']);
    expect(financials?.errors?.[0]?.path).toEqual(['chip', 'designer', 'financials']);
    // As clients see errors elsewhere: no yoga internals (`extensions.http`).
    expect(Object.keys(financials?.errors?.[0]?.extensions ?? {}).sort()).toEqual([
      'code',
      'source',
    ]);
  });
});

describe('limits', () => {
  it('depth counts fields inside deferred fragments; refused before anything is sent', async () => {
    const deep =
      '{ chip(slug: "h200") { ... @defer { designer { chipsDesigned(first: 1) { edges { node { designer { chipsDesigned(first: 1) { edges { node { slug } } } } } } } } } } }';
    const { payloads } = await fetchPayloads(gateway.url, deep);
    // One part: the refusal, with no data.
    expect(payloads).toHaveLength(1);
    expect(payloads[0]?.data).toBeUndefined();
    expect(payloads[0]?.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('cost counts deferred fields as if they were not deferred', async () => {
    const costly =
      '{ chips(first: 100) { edges { node { slug ... @defer { policyDecisions(first: 100) { edges { node { slug } } } } } } } }';
    const deferred = await fetchPayloads(gateway.url, costly);
    const plain = await fetchPayloads(gateway.url, costly.replace(' @defer', ''));
    expect(deferred.payloads).toHaveLength(1);
    expect(deferred.payloads[0]?.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(deferred.payloads[0]?.errors?.[0]?.message).toEqual(
      plain.payloads[0]?.errors?.[0]?.message,
    );
    expect(deferred.status).toBe(plain.status);
  });
});

describe('trusted documents', () => {
  it('a registered document with @defer runs by documentId and is delivered incrementally', async () => {
    const document = 'query Deferred { chip(slug: "h200") { slug ... @defer { name } } }';
    const added = await runDocuments(
      gateway.running.db.db,
      'add',
      manifestFile({ [documentHash(document)]: document }),
    );
    expect(added).toMatchObject({ code: 0, err: [] });
    const key = await createKey(gateway.running.db.db, ['read']);
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed', ...key.headers },
      body: JSON.stringify({ documentId: documentHash(document) }),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('"hasNext":true');
    expect(text).toContain('"incremental":[{"data":{"name":"NVIDIA H200 (SXM)"}');
  });
});

describe('response cache', () => {
  it('stores only the merged result; a hit answers it whole', async () => {
    upstream.reset();
    const query = '{ chip(slug: "b200") { slug ... @defer { name tpp } } }';
    const first = await fetchPayloads(gateway.url, query);
    expect(first.payloads.length).toBeGreaterThan(1);
    const merged = mergePayloads(first.payloads);
    const second = await fetchPayloads(gateway.url, query);
    expect(second.payloads).toHaveLength(1);
    expect(second.payloads[0]?.hasNext).toBeUndefined();
    expect(second.payloads[0]?.data).toEqual(merged.data);
    expect(second.payloads[0]?.extensions?.responseCache).toMatchObject({ hit: true });
  });

  it('does not store a result whose deferred source failed', async () => {
    upstream.reset();
    upstream.misbehave('/sec', { kind: 'status', status: 500 });
    // TSMC: its financials were not fetched before (the source cache holds none).
    const query = '{ company(slug: "tsmc") { slug ... @defer { financials { note } } } }';
    const first = await fetchPayloads(gateway.url, query);
    expect(mergePayloads(first.payloads).errors?.[0]?.extensions?.code).toBe('SOURCE_UNAVAILABLE');
    upstream.reset();
    const second = await fetchPayloads(gateway.url, query);
    const result = mergePayloads(second.payloads) as { data: any; errors?: unknown };
    expect(result.errors).toBeUndefined();
    expect(result.data.company.financials).not.toBeNull();
    expect(upstream.calls('/sec')).toBe(1);
  });
});

describe('subscriptions', () => {
  it('@defer inside a subscription: each event is sent whole', async () => {
    const abort = new AbortController();
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        query: 'subscription { demandSignalRecorded { slug ... @defer { kind } } }',
      }),
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    // The stream is open (its first bytes: a comment and the retry delay); now record a signal.
    await reader.read();
    const key = await createKey(gateway.running.db.db, ['read', 'write']);
    const write = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...key.headers },
      body: JSON.stringify({
        query: `mutation { recordDemandSignal(input: { slug: "ds-defer-test", kind: ORDER, observedOn: "2026-02-02", companies: ["bytedance"] }) { __typename } }`,
      }),
    });
    expect(write.status).toBe(200);
    let text = '';
    const decoder = new TextDecoder();
    while (!text.includes('event: next')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    abort.abort();
    const data = /data: (.*)/.exec(text.slice(text.indexOf('event: next')))?.[1] ?? '';
    expect(JSON.parse(data)).toEqual({
      data: { demandSignalRecorded: { slug: 'ds-defer-test', kind: 'ORDER' } },
    });
  });
});
