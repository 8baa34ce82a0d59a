/**
 * Operating the gateway: Prometheus metrics (on the separate port, and on the main port for
 * keys with the `metrics` scope), checked by the real `promtool check metrics`, and one log line
 * per request with its request id, never a key, a variable value or a document.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundedOperationLabels } from '../src/metrics.js';
import { createKey, type TestKey } from './helpers/keys.js';
import {
  freePort,
  type InProcessGateway,
  postGraphQL,
  removeTempDirs,
  startInProcessGateway,
} from './helpers/server.js';
import { subscribeSse } from './helpers/subscribers.js';

const PROMTOOL = '/usr/bin/promtool';
// CI installs Debian's prometheus package, and there a missing promtool fails the run; on a
// developer machine without it, that one check is skipped and says so.
const promtoolRuns = existsSync(PROMTOOL) || Boolean(process.env.CI);

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
    done();
  },
});

let gateway: InProcessGateway;
let metricsKey: TestKey;
let writeKey: TestKey;

beforeAll(async () => {
  gateway = await startInProcessGateway(
    // The response cache on, so its hit and miss counters have something to count.
    { CHIPGATE_METRICS_PORT: String(await freePort()), CHIPGATE_RESPONSE_CACHE_TTL_S: '60' },
    pino({ level: 'info' }, sink),
  );
  metricsKey = await createKey(gateway.running.db.db, ['metrics'], 'prometheus');
  writeKey = await createKey(gateway.running.db.db, ['write'], 'analyst');
});
afterAll(async () => {
  await gateway?.stop();
  removeTempDirs();
});

async function scrape(): Promise<string> {
  const url = gateway.running.metricsUrl;
  if (!url) throw new Error('no metrics port');
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** The value of one series (`name{labels}`), or undefined. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics', () => {
  it('counts requests by operation and outcome, errors by code, open subscriptions by transport, the pool and sources', async () => {
    const ok = await postGraphQL(gateway.url, 'query Chips { chips(first: 2) { totalCount } }');
    expect(ok.status).toBe(200);
    const bad = await postGraphQL(gateway.url, 'query Nope { nope }');
    expect(bad.status).toBe(400);
    const sse = await subscribeSse(
      gateway.url,
      'subscription Watch { policyDecisionUpdated { toStatus } }',
    );
    try {
      const text = await scrape();
      expect(
        value(text, 'chipgate_request_duration_seconds_count{operation="Chips",outcome="ok"}'),
      ).toBe(1);
      expect(
        value(text, 'chipgate_request_duration_seconds_count{operation="Nope",outcome="refused"}'),
      ).toBe(1);
      expect(value(text, 'chipgate_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"}')).toBe(
        1,
      );
      expect(value(text, 'chipgate_subscriptions_open{transport="sse"}')).toBe(1);
      expect(value(text, 'chipgate_subscriptions_open{transport="websocket"}')).toBe(0);
      expect(value(text, 'chipgate_db_pool_connections_in_use')).toBe(0);
      expect(value(text, 'chipgate_db_pool_waiting')).toBe(0);
      expect(value(text, 'chipgate_listen_reconnects_total')).toBe(0);
      expect(
        value(text, 'chipgate_source_breaker_state{source="federal-register",state="closed"}'),
      ).toBe(1);
      expect(text).toMatch(/^graphql_envelop_phase_parse_count\{operation_name="Chips".*\} 1$/m);
      expect(text).toMatch(/^graphql_envelop_phase_execute_count\{operation_name="Chips".*\} 1$/m);
      expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
      expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    } finally {
      await sse.close();
    }
  });

  it('counts response cache lookups: the first read a miss, the same read again a hit', async () => {
    const hits = 'chipgate_response_cache_requests_total{result="hit"}';
    const misses = 'chipgate_response_cache_requests_total{result="miss"}';
    const before = await scrape();
    const query = 'query CachedChip { chip(slug: "h200") { name } }';
    const first = await postGraphQL(gateway.url, query);
    const second = await postGraphQL(gateway.url, query);
    expect(first.body.data).toEqual({ chip: { name: 'NVIDIA H200 (SXM)' } });
    expect(second.body.data).toEqual(first.body.data);
    expect(first.body.extensions?.responseCache).toMatchObject({ hit: false });
    expect(second.body.extensions?.responseCache).toEqual({ hit: true });
    const after = await scrape();
    expect((value(after, hits) ?? Number.NaN) - (value(before, hits) ?? Number.NaN)).toBe(1);
    expect((value(after, misses) ?? Number.NaN) - (value(before, misses) ?? Number.NaN)).toBe(1);
  });

  it('labels at most a bounded number of operation names: long, unknown or later names are "other"', async () => {
    const long = `A${'a'.repeat(4999)}`;
    expect((await postGraphQL(gateway.url, `query ${long} { __typename }`)).status).toBe(200);
    const text = await scrape();
    expect(
      value(text, 'chipgate_request_duration_seconds_count{operation="other",outcome="ok"}'),
    ).toBe(1);
    expect(text).not.toContain(long.slice(0, 65));
    const label = boundedOperationLabels(2);
    expect(['A', 'B', 'C', 'A', 'anonymous', '-', 'x y', 'B'].map(label)).toEqual([
      'A',
      'B',
      'other',
      'A',
      'anonymous',
      '-',
      'other',
      'B',
    ]);
  });

  it('counts rate-limit refusals by key id through the observer the limiter calls', async () => {
    gateway.running.metrics.onRefused({ keyId: writeKey.id, reason: 'REQUESTS' });
    gateway.running.metrics.onRefused({ keyId: null, reason: 'COST' });
    const text = await scrape();
    expect(
      value(text, `chipgate_rate_limit_refusals_total{key_id="${writeKey.id}",reason="REQUESTS"}`),
    ).toBe(1);
    expect(
      value(text, 'chipgate_rate_limit_refusals_total{key_id="anonymous",reason="COST"}'),
    ).toBe(1);
    expect(text).not.toContain(writeKey.key);
  });

  it('on the main port, only to a key with the metrics scope', async () => {
    const at = new URL('/metrics', gateway.origin);
    const anonymous = await fetch(at);
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const writer = await fetch(at, { headers: writeKey.headers });
    expect(writer.status).toBe(403);
    expect((await writer.json()).errors[0].extensions.code).toBe('FORBIDDEN');
    const scraper = await fetch(at, { headers: metricsKey.headers });
    expect(scraper.status).toBe(200);
    expect(await scraper.text()).toMatch(/^chipgate_request_duration_seconds_bucket/m);
  });

  it.runIf(promtoolRuns)(
    `passes \`promtool check metrics\`${promtoolRuns ? '' : ` (skipped: ${PROMTOOL} is not installed)`}`,
    async () => {
      expect(existsSync(PROMTOOL), `${PROMTOOL} missing: apt-get install prometheus`).toBe(true);
      const text = await scrape();
      const result = spawnSync(PROMTOOL, ['check', 'metrics'], {
        input: text,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.error).toBeUndefined();
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    },
  );
});

describe('request logs', () => {
  it('one line per request with its id, operation, key id, status, duration and error codes; no secrets', async () => {
    const secret = 'nvidia-secret-variable-value';
    lines.length = 0;
    const given = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': 'trace-me-42',
        ...writeKey.headers,
      },
      body: JSON.stringify({
        query: 'query Lookup($slug: String!) { company(slug: $slug) { name } }',
        variables: { slug: secret },
      }),
    });
    expect(given.headers.get('x-request-id')).toBe('trace-me-42');
    const generated = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        'x-request-id': 'bad id\twith spaces',
      },
      body: JSON.stringify({ query: '{ nope }' }),
    });
    const generatedId = generated.headers.get('x-request-id');
    expect(generatedId).toMatch(/^[0-9a-f-]{36}$/);
    const logged = lines.filter((line) => line.msg === 'request');
    expect(logged).toEqual([
      expect.objectContaining({
        level: 30,
        reqId: 'trace-me-42',
        operation: 'Lookup',
        keyId: writeKey.id,
        status: 200,
        durationMs: expect.any(Number),
      }),
      expect.objectContaining({
        reqId: generatedId,
        operation: 'anonymous',
        keyId: null,
        status: 400,
        errors: ['GRAPHQL_VALIDATION_FAILED'],
      }),
    ]);
    const all = JSON.stringify(lines);
    expect(all).not.toContain(secret);
    expect(all).not.toContain(writeKey.key);
    expect(all).not.toContain('company(slug');
  });
});
