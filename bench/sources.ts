/**
 * `npm run bench:sources`: the story query with all three external sources (a decision's
 * Federal Register document, NVIDIA's SEC revenue, news for the company and the chip) against
 * the fixture upstream of the tests, which answers every call after 50 ms.
 *
 * The gateway runs as `src/server.ts` does, in a child process (embedded in-memory PGlite,
 * seeded at start). Two runs, each after a warm-up:
 * - cold cache: every cache TTL 0, so each request goes upstream (concurrent requests for the
 *   same resource still share one call);
 * - warm cache: default TTLs, primed by one request, so requests are served from the cache.
 * - baseline: the same story without the external fields, for what the database part costs.
 * Prints requests/s, p50/p99 latency and upstream calls per request, per source.
 * Settings: BENCH_DURATION (10 s), BENCH_WARMUP (3 s), BENCH_CONNECTIONS (10).
 */
import autocannon from 'autocannon';
import { startUpstream, type Upstream } from '../test/helpers/upstream.js';
import { num, table } from './report.js';
import { startSourceGateway, stopSourceGateway } from './source-gateway.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const UPSTREAM_DELAY_MS = 50;

/** The story with all three sources: curated rows joined with live data. */
export const SOURCES_STORY_QUERY = /* GraphQL */ `query SourcesStory {
  chip(slug: "h200") {
    name
    news(first: 5) { title url publishedAt source }
    designer {
      name
      financials { concept revenue { fiscalYear periodEnd valueUsd form } note source { fetchedAt stale } }
      news(first: 5) { title publishedAt }
    }
    policyDecisions(first: 20) {
      edges {
        node {
          slug
          title
          federalRegisterDocument { documentNumber title publicationDate citation htmlUrl source { fetchedAt stale } }
        }
      }
    }
  }
}`;

/** The same story without the external fields: what the database part alone costs. */
export const BASELINE_QUERY = /* GraphQL */ `query Baseline {
  chip(slug: "h200") {
    name
    designer { name }
    policyDecisions(first: 20) { edges { node { slug title federalRegisterDocumentNumber } } }
  }
}`;

const BODY = JSON.stringify({ query: SOURCES_STORY_QUERY });
const HEADERS = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };

async function load(url: string, seconds: number, body: string) {
  return autocannon({
    url,
    method: 'POST',
    headers: HEADERS,
    body,
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 30,
  });
}

/** Checks one response: no errors, every source answered. */
async function check(url: string): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: HEADERS, body: BODY });
  const body = (await response.json()) as {
    errors?: unknown[];
    data?: { chip?: { designer?: { financials?: unknown } } };
    extensions?: { sources?: unknown[] };
  };
  if (body.errors || !body.data?.chip?.designer?.financials) {
    throw new Error(`unexpected response: ${JSON.stringify(body).slice(0, 500)}`);
  }
}

interface Row {
  run: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  perRequest: Record<string, number>;
}

async function measure(
  upstream: Upstream,
  run: string,
  vars: Record<string, string>,
  body = BODY,
): Promise<Row> {
  const { url, child } = await startSourceGateway(upstream, vars);
  try {
    await check(url);
    await load(url, WARMUP, body);
    upstream.log.length = 0;
    const result = await load(url, DURATION, body);
    const requests = result.requests.total;
    const calls = (prefix: string) => upstream.calls(prefix) / Math.max(requests, 1);
    return {
      run,
      requestsPerSecond: requests / result.duration,
      p50: result.latency.p50,
      p99: result.latency.p99,
      requests,
      errors: result.errors + result.non2xx,
      perRequest: {
        'federal-register': calls('/fr/'),
        'sec-edgar': calls('/sec/'),
        news: calls('/news/'),
      },
    };
  } finally {
    await stopSourceGateway(child);
  }
}

async function main() {
  const upstream = await startUpstream();
  upstream.misbehave('/', { kind: 'delay', ms: UPSTREAM_DELAY_MS });
  try {
    const cold = await measure(upstream, 'cold cache (TTL 0)', {
      CHIPGATE_FEDERAL_REGISTER_CACHE_TTL_S: '0',
      CHIPGATE_SEC_CACHE_TTL_S: '0',
      CHIPGATE_NEWS_CACHE_TTL_S: '0',
    });
    const warm = await measure(upstream, 'warm cache', {});
    const baseline = await measure(
      upstream,
      'baseline: no external fields',
      {},
      JSON.stringify({ query: BASELINE_QUERY }),
    );
    process.stdout.write(
      `\nSources benchmark: story query, upstream answers after ${UPSTREAM_DELAY_MS} ms, ` +
        `${CONNECTIONS} connections, ${DURATION} s per run\n\n`,
    );
    process.stdout.write(
      `${table(
        [
          'run',
          'req/s',
          'p50 ms',
          'p99 ms',
          'requests',
          'errors',
          'FR calls/req',
          'SEC calls/req',
          'news calls/req',
        ],
        [cold, warm, baseline].map((row) => [
          row.run,
          num(row.requestsPerSecond),
          num(row.p50, 0),
          num(row.p99, 0),
          String(row.requests),
          String(row.errors),
          num(row.perRequest['federal-register'], 3),
          num(row.perRequest['sec-edgar'], 3),
          num(row.perRequest.news, 3),
        ]),
      )}\n`,
    );
  } finally {
    await upstream.close();
  }
}

await main();
