/**
 * `npm run bench:pooler`: the reference query through PgBouncer (transaction mode, prepared
 * statements off) against the same gateway connected to PostgreSQL directly (prepared
 * statements on), in one run.
 *
 * 1. Generates `chipgate_bench_pooler` (`<BENCH_DATABASE>_pooler`) at S=BENCH_SCALE on the
 *    server at DATABASE_URL (dropped afterwards).
 * 2. Starts a PgBouncer of its own (Debian's `/usr/sbin/pgbouncer`, as the `postgres` user, a
 *    spare port, `pool_mode = transaction`, `default_pool_size` = BENCH_POOL (10), the
 *    gateway's pool size too) in front of that server.
 * 3. For each of BENCH_ROUNDS (2) rounds, each setup in its own process (the planned gateway
 *    of `npm run bench`, `target.ts`): `direct` (DATABASE_URL at PostgreSQL,
 *    CHIPGATE_DATABASE_PREPARE=on) and `pgbouncer` (DATABASE_URL at PgBouncer,
 *    CHIPGATE_DATABASE_PREPARE=auto, which finds that PgBouncer 1.18 drops prepared statements
 *    and turns them off; CHIPGATE_DATABASE_DIRECT_URL at PostgreSQL): every request checked
 *    once (and both setups must answer alike), a warm-up, then BENCH_DURATION seconds of
 *    BENCH_CONNECTIONS connections in a closed loop.
 * Prints requests/s, p50/p99, gateway CPU and PostgreSQL CPU per request (the backends of the
 * benchmark database, PgBouncer's server connections included; PgBouncer's own CPU is printed
 * apart) for each round, and exits 1 when a response was not a 200 with data and no errors.
 */
import { loadavg } from 'node:os';
import { PGBOUNCER_BIN, startPgBouncer, type TestPgBouncer } from '../test/helpers/pgbouncer.js';
import { describeUrl, loadBenchConfig } from './config.js';
import { preparePostgres } from './databases.js';
import { describeProblems, hasProblems } from './load.js';
import { answersOf, closedRun } from './measure.js';
import type { TargetOptions } from './protocol.js';
import { log, num, progressLog, table } from './report.js';
import type { ClosedRun } from './results.js';
import { clockTicksPerSecond, readProcCpu, ServerCpuMeter } from './server-cpu.js';
import { TargetProcess } from './target-process.js';
import { REFERENCE_WORKLOAD } from './workload.js';

const progress = progressLog();

function integer(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(
      `${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

const TICKS_PER_SECOND = clockTicksPerSecond();

/** CPU time (user + system) of a process so far, in milliseconds (0 when it cannot be read). */
function processCpuMs(pid: number): number {
  return ((readProcCpu(pid)?.cpuTicks ?? 0) * 1000) / TICKS_PER_SECOND;
}

interface SetupRun {
  setup: string;
  round: number;
  run: ClosedRun;
  pgbouncerCpuMs?: number;
}

async function main(): Promise<number> {
  const config = loadBenchConfig();
  const rounds = integer('BENCH_ROUNDS', 2, 1, 10);
  const poolSize = integer('BENCH_POOL', 10, 1, 100);
  const name = `${config.databaseName}_pooler`;
  const databaseUrl = new URL(config.databaseUrl);
  databaseUrl.pathname = `/${name}`;
  const direct = databaseUrl.toString();
  log(
    `bench:pooler  S=${config.scale}  ${config.durationSeconds} s x ${config.connections} connections  ` +
      `${rounds} rounds  server ${describeUrl(direct)}  PgBouncer ${PGBOUNCER_BIN}  load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
  );
  progress(`generating ${name} at S=${config.scale}`);
  const prepared = await preparePostgres(config.scale, config.adminUrl, direct, name);
  let bouncer: TestPgBouncer | undefined;
  const meter = ServerCpuMeter.open(config.adminUrl, name);
  const failures: string[] = [];
  const runs: SetupRun[] = [];
  try {
    bouncer = await startPgBouncer(Number(databaseUrl.port || 5432), {
      default_pool_size: poolSize,
    });
    const pooled = bouncer.urlFor(direct);
    const pgbouncerPid = bouncer.pid();
    const setups: { setup: string; options: TargetOptions }[] = [
      {
        setup: 'direct, prepare on',
        options: {
          path: 'planned',
          backend: 'postgres',
          databaseUrl: direct,
          poolMax: poolSize,
          prepare: 'on',
        },
      },
      {
        setup: 'PgBouncer, prepare auto (off)',
        options: {
          path: 'planned',
          backend: 'postgres',
          databaseUrl: pooled,
          directUrl: direct,
          poolMax: poolSize,
          prepare: 'auto',
        },
      },
    ];
    let reference: string[] | undefined;
    for (let round = 1; round <= rounds; round += 1) {
      for (const { setup, options } of setups) {
        progress(`round ${round}: ${setup}: starting`);
        const target = await TargetProcess.start(options);
        try {
          const answers = await answersOf(target.url, setup, REFERENCE_WORKLOAD);
          reference ??= answers.bodies;
          if (JSON.stringify(answers.bodies) !== JSON.stringify(reference)) {
            failures.push(`${setup} answered the reference query differently`);
          }
          const before = options.directUrl ? processCpuMs(pgbouncerPid) : 0;
          const run = await closedRun(target, setup, REFERENCE_WORKLOAD, {
            warmupSeconds: config.warmupSeconds,
            durationSeconds: config.durationSeconds,
            connections: config.connections,
            serverCpu: meter,
            progress,
          });
          if (hasProblems(run.load)) failures.push(`${setup}: ${describeProblems(run.load)}`);
          runs.push({
            setup,
            round,
            run,
            ...(options.directUrl
              ? { pgbouncerCpuMs: (processCpuMs(pgbouncerPid) - before) / run.load.requests }
              : {}),
          });
        } finally {
          await target.stop();
        }
      }
    }
  } finally {
    await meter.close();
    await bouncer?.stop();
    await prepared.dispose();
  }
  log('');
  log(
    table(
      [
        'round',
        'setup',
        'req/s',
        'p50 ms',
        'p99 ms',
        'statements/req',
        'gateway CPU ms/req',
        'PostgreSQL CPU ms/req',
        'PgBouncer CPU ms/req',
      ],
      runs.map(({ round, setup, run, pgbouncerCpuMs }) => [
        String(round),
        setup,
        num(run.load.requestsPerSecond),
        num(run.load.p50Ms),
        num(run.load.p99Ms),
        num(run.statementsPerRequest, 2),
        num(run.nodeCpuMsPerRequest, 2),
        run.serverCpuMsPerRequest === undefined ? 'n/a' : num(run.serverCpuMsPerRequest, 2),
        pgbouncerCpuMs === undefined ? '-' : num(pgbouncerCpuMs, 3),
      ]),
      [false, false, true, true, true, true, true, true, true],
    ),
  );
  for (const failure of failures) log(`FAILED ${failure}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
