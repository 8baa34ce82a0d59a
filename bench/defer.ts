/**
 * `npm run bench:defer`: what `@defer` changes for the story query (README's first query, with
 * its sources: news of the chip, the designer's SEC revenue, each decision's Federal Register
 * document) when every source answers after 300 ms (the tests' fixture upstream, source
 * caches off so every request goes upstream).
 *
 * The gateway runs as `src/server.ts` does, in a child process (embedded in-memory PGlite,
 * seeded at start). Requests are sent one at a time over `multipart/mixed`; for each, the time
 * to the first payload (the first part's bytes) and to the last (the closing boundary) are
 * taken with `performance.now()` around the fetch. Runs: the story without `@defer` (one
 * payload, waiting for the slowest source), and with each source part under `@defer` (the
 * store part first). Prints p50/p99 per run. Settings: BENCH_RUNS (30), BENCH_WARMUP (3).
 */
import { startUpstream, type Upstream } from '../test/helpers/upstream.js';
import { num, table } from './report.js';
import { startSourceGateway, stopSourceGateway } from './source-gateway.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const UPSTREAM_DELAY_MS = 300;

/** The store part of the story (README's first query). */
const STORE = /* GraphQL */ `
    name
    tpp
    designer { name ticker }
    exportStatus(asOf: "2026-01-20") {
      exportEffect
      exportDecision { title authority }
      importEffect
      importDecision { title authority }
    }
    demandSignals(first: 3) {
      edges { node { observedOn kind quantityUnits summary companies { name } } }
    }`;

/** The story with its sources; `defer` wraps each source part in `... @defer`. */
function storyQuery(defer: boolean): string {
  const d = (selection: string) => (defer ? `... @defer { ${selection} }` : selection);
  return /* GraphQL */ `query Story {
  chip(slug: "h200") {
    ${STORE}
    ${d('news(first: 5) { title url publishedAt }')}
    designer { ${d('financials { concept revenue { fiscalYear valueUsd } }')} }
    policyDecisions(first: 5) {
      edges {
        effect
        node {
          slug jurisdiction status announcedOn revenueSharePercent
          ${d('federalRegisterDocument { documentNumber title citation }')}
        }
      }
    }
  }
}`;
}

/** The gateway against `upstream`, every source call going upstream (and waiting its 300 ms). */
function startGateway(upstream: Upstream) {
  return startSourceGateway(upstream, {
    // Every request goes upstream (and waits its 300 ms).
    CHIPGATE_FEDERAL_REGISTER_CACHE_TTL_S: '0',
    CHIPGATE_SEC_CACHE_TTL_S: '0',
    CHIPGATE_NEWS_CACHE_TTL_S: '0',
    CHIPGATE_SOURCE_TIMEOUT_MS: '5000',
  });
}

/** One request: ms to the first payload and to the end; the body, checked by the caller. */
async function timed(url: string, query: string) {
  const started = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'multipart/mixed' },
    body: JSON.stringify({ query }),
  });
  let first: number | undefined;
  let body = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    body += decoder.decode(chunk, { stream: true });
    // The first payload is in once its JSON has started and its part has ended.
    if (first === undefined && /\{[\s\S]*\r?\n---/.test(body)) first = performance.now() - started;
  }
  const last = performance.now() - started;
  return { first: first ?? last, last, body, status: response.status };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};

async function measure(url: string, defer: boolean) {
  const query = storyQuery(defer);
  const firsts: number[] = [];
  const lasts: number[] = [];
  let payloads = 0;
  for (let i = 0; i < WARMUP + RUNS; i += 1) {
    const { first, last, body, status } = await timed(url, query);
    if (status !== 200 || body.includes('"errors"') || !body.includes('"financials"')) {
      throw new Error(`unexpected response (${status}): ${body.slice(0, 500)}`);
    }
    if (i < WARMUP) continue;
    firsts.push(first);
    lasts.push(last);
    payloads = (body.match(/\r?\n\{/g) ?? []).length;
  }
  return {
    run: defer ? 'sources under @defer' : 'without @defer',
    payloads,
    first: [percentile(firsts, 50), percentile(firsts, 99)],
    last: [percentile(lasts, 50), percentile(lasts, 99)],
  };
}

async function main() {
  const upstream = await startUpstream();
  upstream.misbehave('/', { kind: 'delay', ms: UPSTREAM_DELAY_MS });
  const { url, child } = await startGateway(upstream);
  try {
    const rows = [await measure(url, false), await measure(url, true)];
    process.stdout.write(
      `\n@defer benchmark: story query with its sources, upstream answers after ${UPSTREAM_DELAY_MS} ms, ` +
        `${RUNS} sequential requests per run (after ${WARMUP} warm-up), multipart/mixed\n\n`,
    );
    process.stdout.write(
      `${table(
        ['run', 'payloads', 'first p50 ms', 'first p99 ms', 'last p50 ms', 'last p99 ms'],
        rows.map((row) => [
          row.run,
          String(row.payloads),
          num(row.first[0], 0),
          num(row.first[1], 0),
          num(row.last[0], 0),
          num(row.last[1], 0),
        ]),
      )}\n`,
    );
  } finally {
    await stopSourceGateway(child);
    await upstream.close();
  }
}

await main();
