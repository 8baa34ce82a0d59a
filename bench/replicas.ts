import postgres from 'postgres';
import { openDatabase } from '../src/db/client.js';
import {
  type PrivateCluster,
  startPrivateCluster,
  startStreamingReplica,
} from '../test/helpers/cluster.js';
import { createKey } from '../test/helpers/keys.js';
import { preparePostgres } from './databases.js';
import { type BenchGateway, startBenchGateway, stopBenchGateway } from './gateway-process.js';
import { runLoad } from './load.js';
import { type CountingProxy, startCountingProxy, statementsIn } from './pg-frontend.js';
import { REFERENCE_WORKLOAD, requestBodies } from './workload.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 10);
const SECONDS = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const WRITES = Number(process.env.BENCH_WRITES ?? 20);
const WAIT_MS = 500;
const TOKEN = 'chipgate-consistency-token';

type Gateway = BenchGateway;

/** A gateway with the anonymous limits lifted (the benchmark is one client). */
const startReplicaBenchGateway = (vars: Record<string, string>) =>
  startBenchGateway({
    CHIPGATE_ANON_RATE_LIMIT: '1000000',
    CHIPGATE_ANON_COST_LIMIT: '1000000000',
    ...vars,
  });

/** A series' value in a Prometheus text (0 when absent). */
async function metric(gateway: Gateway, series: string): Promise<number> {
  const text = await (await fetch(gateway.metricsUrl)).text();
  const line = text.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const withPort = (url: string, port: number, database: string) => {
  const parsed = new URL(url);
  parsed.port = String(port);
  parsed.pathname = `/${database}`;
  return parsed.toString();
};

/** Runs the reference query against `gateway` and prints the figures. */
async function throughput(
  label: string,
  gateway: Gateway,
  proxies: { primary: CountingProxy; replica: CountingProxy },
) {
  const bodies = requestBodies(REFERENCE_WORKLOAD);
  await runLoad(gateway.url, 5, CONNECTIONS, bodies);
  const before = {
    primary: statementsIn(proxies.primary.counts),
    replica: statementsIn(proxies.replica.counts),
  };
  const result = await runLoad(gateway.url, SECONDS, CONNECTIONS, bodies);
  const primary = statementsIn(proxies.primary.counts) - before.primary;
  const replica = statementsIn(proxies.replica.counts) - before.replica;
  console.log(
    `${label.padEnd(10)} ${result.requestsPerSecond.toFixed(1).padStart(7)} req/s  ` +
      `p50 ${result.p50Ms} ms  p99 ${result.p99Ms} ms  requests ${result.requests}  ` +
      `statements: primary ${primary}, replica ${replica}  ` +
      `(problems: errors ${result.errors}, non-2xx ${result.non2xx}, bad ${result.bad})`,
  );
}

/** BENCH_WRITES mutations, each followed by a read with its token; prints the waits. */
async function readYourWrites(label: string, gateway: Gateway, authorization: string) {
  const waitSum = () => metric(gateway, 'chipgate_replica_wait_seconds_sum');
  const waitCount = () => metric(gateway, 'chipgate_replica_wait_seconds_count');
  const routes = async () =>
    Promise.all(
      [
        'reason="replica"',
        'target="primary",reason="waited-out"',
        'target="primary",reason="no-replica"',
      ].map(async (labels) => {
        const text = await (await fetch(gateway.metricsUrl)).text();
        return text
          .split('\n')
          .filter((line) => line.startsWith('chipgate_read_routes_total{') && line.includes(labels))
          .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
      }),
    );
  const routes0 = await routes();
  const [sum0, count0] = [await waitSum(), await waitCount()];
  const reads: number[] = [];
  let fresh = 0;
  for (let i = 0; i < WRITES; i++) {
    const name = `Bench replica ${label} ${i} ${Date.now()}`;
    const write = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      body: JSON.stringify({
        query:
          'mutation ($input: UpsertCompanyInput!) { upsertCompany(input: $input) { __typename } }',
        variables: {
          input: {
            slug: 'bench-replica-co',
            name,
            country: 'US',
            roles: ['BUYER'],
            confidence: 'RECALLED',
          },
        },
      }),
    });
    const token = write.headers.get(TOKEN);
    await write.text();
    if (!token) throw new Error('the mutation returned no consistency token');
    const started = performance.now();
    const read = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [TOKEN]: token },
      body: JSON.stringify({ query: '{ company(slug: "bench-replica-co") { name } }' }),
    });
    const body = (await read.json()) as { data?: { company?: { name?: string } } };
    reads.push(performance.now() - started);
    if (body.data?.company?.name === name) fresh += 1;
  }
  const routes1 = await routes();
  const [replica, waitedOut, noReplica] = routes1.map((value, i) => value - (routes0[i] ?? 0));
  const waited = ((await waitSum()) - sum0) * 1000;
  const counted = (await waitCount()) - count0;
  reads.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(16)} ${WRITES} write+read pairs: reads answering the write ${fresh}/${WRITES}; ` +
      `token wait (gateway) mean ${(waited / Math.max(1, counted)).toFixed(1)} ms; ` +
      `token read round trip p50 ${reads[Math.floor(reads.length / 2)]?.toFixed(1)} ms, ` +
      `max ${reads.at(-1)?.toFixed(1)} ms; reads on the replica ${replica}, on the primary ` +
      `after waiting ${WAIT_MS} ms ${waitedOut}, on the primary with the replica out of rotation ${noReplica}`,
  );
}

async function main() {
  let primary: PrivateCluster | undefined;
  let replica: PrivateCluster | undefined;
  const proxies: CountingProxy[] = [];
  const gateways: Gateway[] = [];
  try {
    primary = await startPrivateCluster();
    const database = 'chipgate_bench';
    const prepared = await preparePostgres(
      SCALE,
      primary.url,
      withPort(primary.url, Number(new URL(primary.url).port), database),
      database,
    );
    const keyHandle = await openDatabase({
      databaseUrl: withPort(primary.url, Number(new URL(primary.url).port), database),
      poolMax: 1,
    });
    const key = await createKey(keyHandle.db, ['write']);
    await keyHandle.close();
    replica = await startStreamingReplica(primary);
    console.log(
      `replicas benchmark: S=${SCALE} (${prepared.counts.companies} companies), ` +
        `${SECONDS} s x ${CONNECTIONS} connections, PostgreSQL 15 primary + 1 streaming replica`,
    );
    const primaryProxy = await startCountingProxy('127.0.0.1', Number(new URL(primary.url).port));
    const replicaProxy = await startCountingProxy('127.0.0.1', Number(new URL(replica.url).port));
    proxies.push(primaryProxy, replicaProxy);
    const primaryUrl = withPort(primary.url, primaryProxy.port, database);
    const replicaUrl = withPort(replica.url, replicaProxy.port, database);

    const none = await startReplicaBenchGateway({ DATABASE_URL: primaryUrl });
    const one = await startReplicaBenchGateway({
      DATABASE_URL: primaryUrl,
      CHIPGATE_READ_REPLICA_URLS: replicaUrl,
      CHIPGATE_REPLICA_WAIT_MS: String(WAIT_MS),
    });
    gateways.push(none, one);
    // Alternated, twice, so neither setup alone meets a cold cache or a busy moment.
    for (let round = 0; round < 2; round++) {
      await throughput('none', none, { primary: primaryProxy, replica: replicaProxy });
      await throughput('1 replica', one, { primary: primaryProxy, replica: replicaProxy });
    }
    await stopBenchGateway(none);
    await readYourWrites('replaying', one, key.headers.authorization);
    const replicaSql = postgres(replica.url, { max: 1, onnotice: () => {} });
    await replicaSql`select pg_wal_replay_pause()`;
    await readYourWrites('replay paused', one, key.headers.authorization);
    await replicaSql`select pg_wal_replay_resume()`;
    await replicaSql.end();
    await stopBenchGateway(one);
  } finally {
    for (const gateway of gateways) if (gateway.child.exitCode === null) gateway.child.kill();
    for (const proxy of proxies) await proxy.close();
    await replica?.destroy();
    await primary?.destroy();
  }
}

await main();
