/**
 * No Redis trouble holds a request longer than one Redis deadline. Two gateway processes share
 * a Redis of this test's own (cache on, shared limits); the test stalls it (SIGSTOP), then kills
 * it (connections refused). While it lasts, reads (a cached query, `viewer` with a key) and
 * writes (a mutation with a write key) keep answering fast, each instance counts limits in its
 * own memory (a key's limit still holds there), and each logs the outage once. When Redis
 * returns (SIGCONT, or a restart on the same port) both recover by themselves: the budget is
 * shared again and the cache serves no entry that a write during the outage made stale.
 *
 * The latencies are printed; the bound asserted on their p99 leaves room for a loaded machine
 * (the first requests of an outage may pay one Redis deadline and are left out).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { percentile } from '../bench/load.js';
import {
  limitSequence,
  type SharedKey,
  sharedGateways,
  sharedKey,
  TestRedis,
} from './helpers/redis.js';
import {
  type ChildGateway,
  type GatewayDatabase,
  killChildren,
  postGraphQL,
  removeTempDirs,
} from './helpers/server.js';

/** How long each outage is measured. */
const OUTAGE_MS = 8_000;
/** A request taking longer than this counts as failed (Redis held it). */
const REQUEST_TIMEOUT_MS = 5_000;
/** Requests per kind left out at the start of an outage (they may pay one Redis deadline). */
const FIRST_LEFT_OUT = 2;
/** The p99 asserted: the target is 300 ms; the rest is room for a loaded 2-core machine. */
const P99_BOUND_MS = 1_500;
/** How long a gateway may take to notice Redis is back (it probes about once a second). */
const RECOVERY_TIMEOUT_MS = 20_000;

const SLUG = 'redis-outage-test';
const READ = /* GraphQL */ `query Name { company(slug: "nvidia") { name } }`;
const VIEWER = /* GraphQL */ `query Usage { viewer { usage { requests } } }`;
const WRITE = /* GraphQL */ `
  mutation Rename($name: String!) {
    upsertCompany(input: {
      slug: "${SLUG}", name: $name, country: "US", roles: [DESIGNER], confidence: RECALLED
    }) { __typename }
  }`;
const RENAMED = /* GraphQL */ `query Renamed { company(slug: "${SLUG}") { name } }`;

const UNREACHABLE = /^Redis unreachable/;
const BACK = /^Redis is back/;

let redis: TestRedis;
const databases: GatewayDatabase[] = [];
let a: ChildGateway;
let b: ChildGateway;
const writer = sharedKey(['read', 'write']);
// Per limit check two keys of 2 requests a minute (the second for when the minute turns).
const limited: SharedKey[] = Array.from({ length: 8 }, () => sharedKey(['read'], 2));
let renames = 0;
let limitChecks = 0;
let sharedReads = 0;
/** Two fresh limited keys for one limit check. */
function nextKeys(): [SharedKey, SharedKey] {
  limitChecks += 2;
  return [limited[limitChecks - 2], limited[limitChecks - 1]] as [SharedKey, SharedKey];
}

beforeAll(async () => {
  redis = await TestRedis.start();
  [a, b] = await sharedGateways(redis.url, [writer, ...limited], databases, {
    CHIPGATE_RESPONSE_CACHE_TTL_S: '300',
  });
  // The first write creates the company.
  expect(await rename()).toMatchObject({ ok: true });
}, 180_000);

afterAll(async () => {
  await killChildren();
  await redis?.kill();
  for (const database of databases) await database.cleanup();
  removeTempDirs();
});
// A failed test leaves no outage behind for the next one.
afterEach(() => redis.revive());

/** One request as the client saw it. */
interface Sample {
  ms: number;
  ok: boolean;
  /** What was wrong (status, errors, timeout). */
  problem?: string;
}

/** POSTs `query` to `url` with a client timeout; `ok` when `check` accepts the data. */
async function timed(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  check: (data: any) => boolean,
): Promise<Sample> {
  const started = performance.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        ...writer.headers,
      },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = (await response.json()) as { data?: unknown; errors?: unknown[] };
    const ms = performance.now() - started;
    if (response.status === 200 && !body.errors && check(body.data)) return { ms, ok: true };
    return { ms, ok: false, problem: `${response.status} ${JSON.stringify(body).slice(0, 200)}` };
  } catch (error) {
    return { ms: performance.now() - started, ok: false, problem: (error as Error).message };
  }
}

const read = (on: ChildGateway) =>
  timed(on.url, READ, {}, (data) => data?.company?.name === 'NVIDIA Corporation');
const viewer = (on: ChildGateway) =>
  timed(on.url, VIEWER, {}, (data) => Number.isInteger(data?.viewer?.usage?.requests));
async function rename(on: ChildGateway = a): Promise<Sample> {
  renames += 1;
  return timed(
    on.url,
    WRITE,
    { name: `Outage test ${renames}` },
    (data) => data?.upsertCompany?.__typename === 'UpsertCompanySuccess',
  );
}
async function renamed(on: ChildGateway): Promise<{ name: string; hit: boolean | undefined }> {
  const { status, body } = await postGraphQL(on.url, RENAMED);
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  return { name: body.data.company.name, hit: body.extensions?.responseCache?.hit };
}

/** Sends `request` again and again, one at a time, for `durationMs`. */
async function series(durationMs: number, request: () => Promise<Sample>): Promise<Sample[]> {
  const samples: Sample[] = [];
  const end = performance.now() + durationMs;
  while (performance.now() < end) samples.push(await request());
  return samples;
}

/** Reads, `viewer` and writes through `on`, side by side, for `durationMs`. */
async function traffic(on: ChildGateway, durationMs: number) {
  const [reads, viewers, writes] = await Promise.all([
    series(durationMs, () => read(on)),
    series(durationMs, () => viewer(on)),
    series(durationMs, () => rename(on)),
  ]);
  return { reads, viewers, writes };
}

/** Count, failures and latency percentiles of `samples` (ms, one decimal). */
function figures(samples: Sample[]) {
  const sorted = samples.map((s) => s.ms).sort((x, y) => x - y);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    n: samples.length,
    failed: samples.filter((s) => !s.ok).length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
    firstProblem: samples.find((s) => !s.ok)?.problem,
  };
}

/** Prints and checks one outage's traffic (the first requests of each kind left out). */
function expectFast(label: string, measured: Awaited<ReturnType<typeof traffic>>) {
  const rows = Object.entries(measured).map(([kind, samples]) => ({
    kind,
    first: samples.slice(0, FIRST_LEFT_OUT).map((s) => Math.round(s.ms)),
    ...figures(samples.slice(FIRST_LEFT_OUT)),
  }));
  console.log(`${label} (ms):\n${rows.map((row) => JSON.stringify(row)).join('\n')}`);
  for (const row of rows) {
    expect({ kind: row.kind, failed: row.failed, problem: row.firstProblem }).toEqual({
      kind: row.kind,
      failed: 0,
      problem: undefined,
    });
    expect(row.n, `${row.kind}: requests answered`).toBeGreaterThanOrEqual(10);
    expect(row.p99, `${row.kind}: p99 in ms`).toBeLessThan(P99_BOUND_MS);
  }
}

/** Log lines so far, per gateway (to look for lines logged after this mark). */
const mark = () => [a.logs.length, b.logs.length] as const;

/** Waits for both gateways to log `match` after `since`; returns when each did (epoch ms). */
async function bothLogged(match: RegExp, since: readonly [number, number], timeoutMs: number) {
  const lines = await Promise.all([
    a.waitForLog(match, timeoutMs, since[0]),
    b.waitForLog(match, timeoutMs, since[1]),
  ]);
  return lines.map((line) => Number(line.time));
}

/** Lines of `gateway` matching `match` after `since`. */
const countLogged = (gateway: ChildGateway, match: RegExp, since: number) =>
  gateway.logs.slice(since).filter((line) => match.test(line.msg)).length;

describe.each([
  { outage: 'stalled (SIGSTOP)', stop: () => redis.pause(), start: () => redis.resume() },
  { outage: 'refused (killed)', stop: () => redis.kill(), start: () => redis.restart() },
])('Redis $outage', ({ outage, stop, start }) => {
  it('reads and writes keep answering; limits are counted per instance; both recover by themselves', async () => {
    const healthy = await traffic(a, 2_000);
    console.log(
      `healthy, before the ${outage} outage (ms):\n${Object.entries(healthy)
        .map(([kind, samples]) => JSON.stringify({ kind, ...figures(samples) }))
        .join('\n')}`,
    );
    // Cached on the shared Redis before the outage (A's next read is a hit); renamed during it.
    const before = `Outage test ${renames}`;
    await vi.waitFor(async () => expect(await renamed(a)).toEqual({ name: before, hit: true }), {
      timeout: 10_000,
      interval: 50,
    });

    const down = mark();
    await stop();
    expectFast(`Redis ${outage}: through gateway A`, await traffic(a, OUTAGE_MS));

    // Each instance counts on its own: 2 a minute through A, and 2 more through B.
    const [apart, apartFallback] = nextKeys();
    expect(await limitSequence([a, a, a, b, b, b], READ, apart, apartFallback)).toEqual([
      [200, '1'],
      [200, '0'],
      [429, '0'],
      [200, '1'],
      [200, '0'],
      [429, '0'],
    ]);
    await bothLogged(UNREACHABLE, down, RECOVERY_TIMEOUT_MS);

    const back = mark();
    const returned = Date.now();
    await start();
    const recoveredAt = await bothLogged(BACK, back, RECOVERY_TIMEOUT_MS);
    console.log(
      `Redis ${outage}: recovered ${recoveredAt.map((at) => at - returned).join(' and ')} ms after it returned (A and B)`,
    );
    // One line per transition, however many requests met the outage.
    expect([a, b].map((on, i) => countLogged(on, UNREACHABLE, down[i] ?? 0))).toEqual([1, 1]);
    expect([a, b].map((on, i) => countLogged(on, BACK, back[i] ?? 0))).toEqual([1, 1]);

    // Shared again: 1 through A and 1 through B use the key's 2.
    const [shared, sharedFallback] = nextKeys();
    expect(await limitSequence([a, b, a], READ, shared, sharedFallback)).toEqual([
      [200, '1'],
      [200, '0'],
      [429, '0'],
    ]);
    // The cache holds nothing the outage's writes changed, and is shared again: what A stores,
    // B finds (a document of its own each try, in case the machine's load made one miss).
    expect((await renamed(a)).name).toBe(`Outage test ${renames}`);
    await vi.waitFor(
      async () => {
        const document = `query Shared${++sharedReads} { company(slug: "nvidia") { name } }`;
        expect((await postGraphQL(a.url, document)).body.extensions?.responseCache?.hit).toBe(
          false,
        );
        const onB = await postGraphQL(b.url, document);
        expect(onB.body.data.company.name).toBe('NVIDIA Corporation');
        expect(onB.body.extensions?.responseCache?.hit).toBe(true);
      },
      { timeout: 10_000, interval: 50 },
    );
  }, 120_000);
});
