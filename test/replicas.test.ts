/**
 * Read replicas with read-your-writes, end to end: a private PostgreSQL 15 primary and a
 * streaming replica of it (`pg_basebackup -R`, each on a spare port), and gateways started as
 * real processes over HTTP with `CHIPGATE_READ_REPLICA_URLS`. Which server answered is read
 * from the answer itself (the replica's replay is paused, so only the primary has the write)
 * and from the gateway's per-server counters on its metrics port.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.js';
import { formatLsn, parseLsn } from '../src/db/replicas.js';
import { ConfigError, loadEnv } from '../src/env.js';
import {
  type PrivateCluster,
  seedCluster,
  startPrivateCluster,
  startStreamingReplica,
} from './helpers/cluster.js';
import type { TestKey } from './helpers/keys.js';
import {
  type ChildGateway,
  freePort,
  killChildren,
  postGraphQL,
  startChildGateway,
} from './helpers/server.js';
import { subscribeSse } from './helpers/subscribers.js';
import { insertSignal } from './helpers/writes.js';

const TOKEN = 'chipgate-consistency-token';
const WAIT_MS = 1_500;

let primary: PrivateCluster;
let replica: PrivateCluster;
let writer: TestKey;
let replicaSql: postgres.Sql;
let primarySql: postgres.Sql;

const UPSERT = /* GraphQL */ `
  mutation ($input: UpsertCompanyInput!) {
    upsertCompany(input: $input) {
      __typename
      ... on UpsertCompanySuccess { company { slug name } }
    }
  }`;
const READ = '{ company(slug: "replica-test-co") { name } }';

/** Writes the test company's name through `gateway`; returns the consistency token. */
async function writeName(gateway: ChildGateway, name: string): Promise<string> {
  const response = await postGraphQL(
    gateway.url,
    UPSERT,
    {
      input: {
        slug: 'replica-test-co',
        name,
        country: 'US',
        roles: ['BUYER'],
        confidence: 'RECALLED',
      },
    },
    writer.headers,
  );
  expect(response.status).toBe(200);
  expect(response.body.data.upsertCompany).toEqual({
    __typename: 'UpsertCompanySuccess',
    company: { slug: 'replica-test-co', name },
  });
  const token = response.headers.get(TOKEN);
  expect(token).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  expect(response.body.extensions?.consistencyToken).toBe(token);
  return token as string;
}

/** The test company's name as `gateway` answers it (null: not there), with or without a token. */
async function readName(gateway: ChildGateway, token?: string): Promise<string | null> {
  const response = await postGraphQL(gateway.url, READ, {}, token ? { [TOKEN]: token } : {});
  expect(response.status).toBe(200);
  expect(response.body.errors).toBeUndefined();
  return response.body.data.company?.name ?? null;
}

/** One sample of the gateway's metrics (separate metrics port). */
async function metricsOf(gateway: ChildGateway): Promise<string> {
  const port = metricsPorts.get(gateway);
  if (!port) throw new Error('no metrics port');
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** A series' value in a metrics text (0 when absent). */
function seriesValue(metrics: string, series: string): number {
  const line = metrics.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** Reads routed per target, from the gateway's counter. */
async function routes(gateway: ChildGateway, replicaName: string) {
  const text = await metricsOf(gateway);
  return {
    replica: seriesValue(
      text,
      `chipgate_read_routes_total{target="${replicaName}",reason="replica"}`,
    ),
    waitedOut: seriesValue(
      text,
      'chipgate_read_routes_total{target="primary",reason="waited-out"}',
    ),
    noReplica: seriesValue(
      text,
      'chipgate_read_routes_total{target="primary",reason="no-replica"}',
    ),
    inRotation: seriesValue(text, `chipgate_replica_in_rotation{replica="${replicaName}"}`),
    statements: seriesValue(text, `chipgate_replica_statements_total{replica="${replicaName}"}`),
  };
}

async function until(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const pauseReplay = async () => {
  await replicaSql`select pg_wal_replay_pause()`;
  await until(
    async () =>
      (await replicaSql`select pg_get_wal_replay_pause_state() as state`)[0]?.state === 'paused',
  );
};
const resumeReplay = () => replicaSql`select pg_wal_replay_resume()`;

const metricsPorts = new Map<ChildGateway, number>();

async function startGateway(
  maxLagMs: number,
  vars: Record<string, string> = {},
): Promise<ChildGateway> {
  const port = await freePort();
  const gateway = await startChildGateway({
    ...vars,
    DATABASE_URL: primary.url,
    CHIPGATE_READ_REPLICA_URLS: replica.url,
    CHIPGATE_REPLICA_WAIT_MS: String(WAIT_MS),
    CHIPGATE_REPLICA_MAX_LAG_MS: String(maxLagMs),
    CHIPGATE_METRICS_PORT: String(port),
  });
  metricsPorts.set(gateway, port);
  return gateway;
}

let replicaName: string;

beforeAll(async () => {
  primary = await startPrivateCluster();
  writer = await seedCluster(primary, ['write']);
  replica = await startStreamingReplica(primary);
  replicaSql = postgres(replica.url, { max: 1, onnotice: () => {} });
  primarySql = postgres(primary.url, { max: 1, onnotice: () => {} });
  replicaName = `127.0.0.1:${new URL(replica.url).port}/postgres`;
}, 180_000);

afterAll(async () => {
  await killChildren();
  await replicaSql?.end({ timeout: 1 });
  await primarySql?.end({ timeout: 1 });
  await replica?.destroy();
  await primary?.destroy();
}, 120_000);

describe('read replicas', () => {
  it('a read carrying a mutation token answers the write (from the primary once the wait runs out, from the replica once it replayed); without it the paused replica answers', async () => {
    const gateway = await startGateway(600_000);
    try {
      // In sync before anything: the first write replays, and reads go to the replica.
      const first = await writeName(gateway, 'Replica Co v1');
      expect(await readName(gateway, first)).toBe('Replica Co v1');

      await pauseReplay();
      const before = await routes(gateway, replicaName);
      const token = await writeName(gateway, 'Replica Co v2');
      const started = performance.now();
      expect(await readName(gateway, token)).toBe('Replica Co v2');
      const waited = performance.now() - started;
      const afterTokenRead = await routes(gateway, replicaName);
      // The replica never replayed it: the read waited the whole CHIPGATE_REPLICA_WAIT_MS,
      // then read the primary.
      expect(afterTokenRead.waitedOut).toBe(before.waitedOut + 1);
      expect(afterTokenRead.replica).toBe(before.replica);
      expect(waited).toBeGreaterThanOrEqual(WAIT_MS - 50);
      console.log(`read-your-writes wait with replay paused: ${waited.toFixed(0)} ms`);

      // Without the token the read goes to the paused replica, which has the old value.
      expect(await readName(gateway)).toBe('Replica Co v1');
      expect((await routes(gateway, replicaName)).replica).toBe(before.replica + 1);

      // Replay resumed: the token read goes back to the replica, and answers the write.
      await resumeReplay();
      const resumed = performance.now();
      expect(await readName(gateway, token)).toBe('Replica Co v2');
      console.log(`token read after resume: ${(performance.now() - resumed).toFixed(0)} ms`);
      const after = await routes(gateway, replicaName);
      expect(after.replica).toBe(before.replica + 2);
      expect(after.waitedOut).toBe(before.waitedOut + 1);
      // Ten plain reads: all on the replica (statements counted there by the gateway).
      for (let i = 0; i < 10; i++) expect(await readName(gateway)).toBe('Replica Co v2');
      const ten = await routes(gateway, replicaName);
      expect(ten.replica).toBe(after.replica + 10);
      expect(ten.statements).toBeGreaterThanOrEqual(after.statements + 10);
      expect(ten.noReplica + ten.waitedOut).toBe(after.noReplica + after.waitedOut);
    } finally {
      await resumeReplay().catch(() => {});
      await gateway.stop();
    }
  }, 120_000);

  it('a subscription event is read where its own position was replayed: never older data than the event', async () => {
    const gateway = await startGateway(600_000);
    const writerDb = await openDatabase({ databaseUrl: primary.url, poolMax: 1 });
    const subscription = await subscribeSse(
      gateway.url,
      'subscription { demandSignalRecorded { slug quantityUnits companies { slug } } }',
    );
    try {
      expect(subscription.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await pauseReplay();
      const before = await routes(gateway, replicaName);
      // A plain SQL writer on the primary: the replica has not replayed it.
      await insertSignal(writerDb.db, 'replica-signal-1', 'h200', ['nvidia', 'bytedance']);
      const [first] = await subscription.waitForResults(1, 30_000);
      expect(first?.errors).toBeUndefined();
      expect(first?.data?.demandSignalRecorded).toEqual({
        slug: 'replica-signal-1',
        quantityUnits: 5000,
        companies: [{ slug: 'nvidia' }, { slug: 'bytedance' }],
      });
      const paused = await routes(gateway, replicaName);
      expect(paused.waitedOut).toBe(before.waitedOut + 1);
      expect(paused.replica).toBe(before.replica);

      await resumeReplay();
      await insertSignal(writerDb.db, 'replica-signal-2', 'h200', ['alibaba']);
      const results = await subscription.waitForResults(2, 30_000);
      expect(results[1]?.data?.demandSignalRecorded).toEqual({
        slug: 'replica-signal-2',
        quantityUnits: 5000,
        companies: [{ slug: 'alibaba' }],
      });
      const resumed = await routes(gateway, replicaName);
      expect(resumed.replica).toBe(paused.replica + 1);
      expect(resumed.waitedOut).toBe(paused.waitedOut);
    } finally {
      await resumeReplay().catch(() => {});
      await subscription.close();
      await writerDb.close();
      await gateway.stop();
    }
  }, 120_000);

  it('with the response cache on, a change evicted on this instance is never answered older from a lagging replica, token or not', async () => {
    const gateway = await startGateway(600_000, { CHIPGATE_RESPONSE_CACHE_TTL_S: '60' });
    try {
      await writeName(gateway, 'Replica Co c1');
      await until(async () => (await readName(gateway)) === 'Replica Co c1');
      await pauseReplay();
      // Cached now (from the replica): the old value.
      expect(await readName(gateway)).toBe('Replica Co c1');
      const before = await routes(gateway, replicaName);
      await writeName(gateway, 'Replica Co c2');
      // The write evicted it; the replica has not replayed the write: the read waits, then
      // reads the primary, and what it caches is the new value.
      expect(await readName(gateway)).toBe('Replica Co c2');
      expect(await readName(gateway)).toBe('Replica Co c2');
      const after = await routes(gateway, replicaName);
      expect(after.waitedOut).toBeGreaterThanOrEqual(before.waitedOut + 1);
      expect(after.replica).toBe(before.replica);
    } finally {
      await resumeReplay().catch(() => {});
      await gateway.stop();
    }
  }, 120_000);

  it('a malformed token is refused with 400 and BAD_CONSISTENCY_TOKEN', async () => {
    const gateway = await startGateway(600_000);
    try {
      for (const bad of ['nonsense', '0/', '1/2/3', `${'F'.repeat(9)}/0`, "0/1' or 1=1"]) {
        const response = await postGraphQL(gateway.url, READ, {}, { [TOKEN]: bad });
        expect(response.status).toBe(400);
        expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_CONSISTENCY_TOKEN');
        expect(JSON.stringify(response.body)).not.toMatch(/pg_|select|at .*\.ts/i);
      }
      // Well formed but past the primary's own position (forged): no replica can ever replay
      // it, so the read goes to the primary at once instead of holding for the whole wait.
      const before = await metricsOf(gateway);
      const started = performance.now();
      const ahead = await postGraphQL(gateway.url, READ, {}, { [TOKEN]: 'FFFFFFFF/FFFFFFFF' });
      const tookMs = performance.now() - started;
      expect(ahead.status).toBe(200);
      expect(ahead.body.errors).toBeUndefined();
      const series = 'chipgate_read_routes_total{target="primary",reason="token-ahead"}';
      expect(seriesValue(await metricsOf(gateway), series)).toBe(seriesValue(before, series) + 1);
      expect(tookMs).toBeLessThan(WAIT_MS);
    } finally {
      await gateway.stop();
    }
  }, 120_000);

  it('a replica lagging past CHIPGATE_REPLICA_MAX_LAG_MS leaves the rotation until it catches up', async () => {
    const gateway = await startGateway(1_000);
    try {
      await until(async () => (await routes(gateway, replicaName)).inRotation === 1);
      await pauseReplay();
      await writeName(gateway, 'Replica Co v3');
      // Out of rotation once it is more than a second behind: reads answer the write (primary).
      await until(async () => (await routes(gateway, replicaName)).inRotation === 0);
      const out = await routes(gateway, replicaName);
      expect(await readName(gateway)).toBe('Replica Co v3');
      expect((await routes(gateway, replicaName)).noReplica).toBe(out.noReplica + 1);
      const lagging = await metricsOf(gateway);
      expect(
        seriesValue(lagging, `chipgate_replica_lag_seconds{replica="${replicaName}"}`),
      ).toBeGreaterThan(1);

      await resumeReplay();
      await until(async () => (await routes(gateway, replicaName)).inRotation === 1);
      const back = await routes(gateway, replicaName);
      expect(await readName(gateway)).toBe('Replica Co v3');
      expect((await routes(gateway, replicaName)).replica).toBe(back.replica + 1);
    } finally {
      await resumeReplay().catch(() => {});
      await gateway.stop();
    }
  }, 120_000);

  it('a stopped replica: reads keep answering from the primary', async () => {
    const gateway = await startGateway(600_000);
    try {
      await writeName(gateway, 'Replica Co v4');
      await until(async () => (await readName(gateway)) === 'Replica Co v4');
      await replicaSql.end({ timeout: 1 });
      await replica.stop();
      // Every read answers, the first ones included (a read that meets the stopped replica is
      // run again on the primary).
      for (let i = 0; i < 5; i++) expect(await readName(gateway)).toBe('Replica Co v4');
      await until(async () => (await routes(gateway, replicaName)).inRotation === 0);
      const token = await writeName(gateway, 'Replica Co v5');
      expect(await readName(gateway, token)).toBe('Replica Co v5');
      expect(await readName(gateway)).toBe('Replica Co v5');
    } finally {
      await gateway.stop();
    }
  }, 120_000);
});

describe('consistency tokens', () => {
  it('compare as 64-bit WAL positions, as pg_lsn does, never as text', () => {
    expect(parseLsn('0/3000148')).toBe(0x3000148n);
    expect(parseLsn('16/b374d848')).toBe((0x16n << 32n) + 0xb374d848n);
    // As text '9/0' > '10/0'; as positions it is the other way round.
    expect((parseLsn('9/0') as bigint) < (parseLsn('10/0') as bigint)).toBe(true);
    expect((parseLsn('0/FFFFFFFF') as bigint) < (parseLsn('1/0') as bigint)).toBe(true);
    expect(formatLsn((0x16n << 32n) + 0xb374d848n)).toBe('16/B374D848');
    for (const bad of ['', '0', '0/', '/1', 'G/1', '1/2/3', '123456789/0', ' 0/1', '-1/0']) {
      expect(parseLsn(bad), bad).toBeUndefined();
    }
  });
});

describe('configuration', () => {
  it('refuses replicas without DATABASE_URL (PGlite has none), naming the variable', () => {
    expect(() =>
      loadEnv({ CHIPGATE_READ_REPLICA_URLS: 'postgres://reader:secret@127.0.0.1:5433/postgres' }),
    ).toThrow(ConfigError);
    try {
      loadEnv({ CHIPGATE_READ_REPLICA_URLS: 'postgres://reader:secret@127.0.0.1:5433/postgres' });
    } catch (error) {
      expect((error as Error).message).toMatch(/CHIPGATE_READ_REPLICA_URLS.*need DATABASE_URL/);
      expect((error as Error).message).not.toContain('secret');
    }
    expect(() =>
      loadEnv({
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
        CHIPGATE_READ_REPLICA_URLS: 'postgres://a@127.0.0.1:1/x, http://b',
      }),
    ).toThrow(/CHIPGATE_READ_REPLICA_URLS=\(value hidden\)/);
    const env = loadEnv({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
      CHIPGATE_READ_REPLICA_URLS: 'postgres://a@127.0.0.1:5433/x, postgres://b@127.0.0.1:5434/x',
    });
    expect(env.CHIPGATE_READ_REPLICA_URLS).toHaveLength(2);
    expect(env.CHIPGATE_REPLICA_WAIT_MS).toBe(500);
    expect(env.CHIPGATE_REPLICA_MAX_LAG_MS).toBe(5_000);
    // Commas only: the list is missing (not "none"); empty is none. A lag limit of 0 would keep
    // every replica out of rotation.
    const primary = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' };
    expect(() => loadEnv({ ...primary, CHIPGATE_READ_REPLICA_URLS: ' , ,' })).toThrow(
      /CHIPGATE_READ_REPLICA_URLS=\(value hidden\): expected a URL/,
    );
    expect(
      loadEnv({ ...primary, CHIPGATE_READ_REPLICA_URLS: '' }).CHIPGATE_READ_REPLICA_URLS,
    ).toEqual([]);
    expect(() => loadEnv({ CHIPGATE_REPLICA_MAX_LAG_MS: '0' })).toThrow(/between 100 and 3600000/);
  });
});
