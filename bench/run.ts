/**
 * `npm run bench`: the nested-query benchmark of the gateway against a raw-SQL floor.
 *
 * For each backend (in-memory PGlite, then the PostgreSQL server):
 * 1. generate a database at scale factor S (`generate.ts`);
 * 2. fork the floor (`target.ts`, one hand-written JSON-aggregating SQL statement through
 *    postgres.js, or the same SQL on PGlite), check one response, warm up, load it with
 *    autocannon for BENCH_DURATION seconds;
 * 3. fork the gateway (`createApp` on `node:http`, as `src/server.ts` runs it) and do the same;
 *    check once that both answer the same JSON;
 * 4. on the real server, compare against the targets (Node CPU per request, throughput as a
 *    share of the floor's) and, when one is missed, profile the gateway and print where its
 *    CPU time goes.
 * Prints one table at the end and writes the figures and profiles to `.chipgate/bench/`
 * (git-ignored).
 * Settings: see `config.ts`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEnv } from '../src/env.js';
import { type BenchConfig, describeUrl, loadBenchConfig } from './config.js';
import { type PreparedDatabase, preparePglite, preparePostgres } from './databases.js';
import type { GeneratedCounts } from './generate.js';
import { type LoadResult, requestOnce, runLoad } from './load.js';
import { type CpuProfile, type ProfileSummary, summarizeProfile } from './profile.js';
import type { Backend, Measurement, TargetKind } from './protocol.js';
import { num, table } from './report.js';
import { TARGET_NODE_ENV, TargetProcess } from './target-process.js';
import { type Comparison, compareBodies, countRecords, FIRST } from './workload.js';

/** Targets from the issue, for the real server at S=10 (about 800 records per response). */
const TARGET_CPU_MS_PER_REQUEST = 4;
const TARGET_FLOOR_RATIO = 0.6;
const TARGET_SCALE = 10;

/** Everything measured for one server on one backend. */
interface RunFigures {
  backend: Backend;
  kind: TargetKind;
  load: LoadResult;
  measurement: Measurement;
  /** Node CPU (user + system) of the target per response, in milliseconds. */
  cpuMsPerRequest: number;
  statementsPerRequest: number;
  /** Records (edge nodes) in one response. */
  records: number;
  responseBytes: number;
  /** A CPU profile taken in a separate load run after the measured one. */
  profile?: { file: string; seconds: number; requests: number; summary: ProfileSummary };
}

/** One backend's runs. */
interface BackendResult {
  backend: Backend;
  description: string;
  counts: GeneratedCounts;
  generateSeconds: number;
  floor: RunFigures;
  gateway: RunFigures;
  /** Gateway vs floor on the same request. */
  comparison: Comparison;
  /** The gateway's response body, for the cross-backend check. */
  gatewayBody: string;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Checks that a response is a 200 with data and no errors; returns its parsed body. */
function checkResponse(kind: TargetKind, status: number, body: string): unknown {
  let parsed: { data?: unknown; errors?: unknown } | undefined;
  try {
    parsed = JSON.parse(body) as { data?: unknown; errors?: unknown };
  } catch {
    // Reported below.
  }
  if (status !== 200 || !parsed?.data || parsed.errors) {
    throw new Error(`${kind} answered ${status}: ${body.slice(0, 500)}`);
  }
  return parsed;
}

/** Whether the gateway's figures miss a target (only judged on the real server). */
function missesTargets(gateway: RunFigures, floor: RunFigures): boolean {
  return (
    gateway.cpuMsPerRequest > TARGET_CPU_MS_PER_REQUEST ||
    gateway.load.requestsPerSecond < TARGET_FLOOR_RATIO * floor.load.requestsPerSecond
  );
}

/**
 * Runs one target (floor or gateway) on a prepared database: one checked request, warm-up,
 * a measured load run, and, when `wantProfile` says so after the run, a profiled load run.
 */
async function measure(
  config: BenchConfig,
  prepared: PreparedDatabase,
  kind: TargetKind,
  outDir: string,
  wantProfile: (figures: RunFigures) => boolean,
): Promise<{ figures: RunFigures; body: string }> {
  const backend = prepared.target.backend;
  const target = await TargetProcess.start({
    ...prepared.target,
    kind,
    poolMax: loadEnv({}).CHIPGATE_DB_POOL_MAX,
  });
  try {
    const first = await requestOnce(target.url);
    const records = countRecords(checkResponse(kind, first.status, first.body));
    if (config.warmupSeconds > 0) {
      log(`  ${backend} ${kind}: warming up ${config.warmupSeconds} s`);
      await runLoad(target.url, config.warmupSeconds, config.connections);
    }
    log(`  ${backend} ${kind}: measuring ${config.durationSeconds} s`);
    await target.startMeasuring();
    const load = await runLoad(target.url, config.durationSeconds, config.connections);
    // The target closes the window once the requests still in flight at the deadline are done.
    const measurement = await target.stopMeasuring();
    const requests = Math.max(measurement.requests, 1);
    const figures: RunFigures = {
      backend,
      kind,
      load,
      measurement,
      cpuMsPerRequest: (measurement.cpuUserMicros + measurement.cpuSystemMicros) / 1000 / requests,
      statementsPerRequest: measurement.statements / requests,
      records,
      responseBytes: Buffer.byteLength(first.body),
    };
    if (wantProfile(figures)) {
      const file = path.join(outDir, `${kind}-${backend}-${stamp()}.cpuprofile`);
      log(`  ${backend} ${kind}: profiling ${config.profileSeconds} s`);
      await target.startProfiling();
      const profiled = await runLoad(target.url, config.profileSeconds, config.connections);
      await target.stopProfiling(file);
      const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, 15);
      figures.profile = {
        file,
        seconds: config.profileSeconds,
        requests: profiled.requests,
        summary,
      };
    }
    return { figures, body: first.body };
  } finally {
    await target.stop();
  }
}

/** Generates one backend's database, measures the floor then the gateway on it, drops it. */
async function runBackend(
  config: BenchConfig,
  backend: Backend,
  workDir: string,
  outDir: string,
): Promise<BackendResult> {
  log(`\n[${backend}] generating S=${config.scale} ...`);
  const prepared =
    backend === 'pglite'
      ? await preparePglite(config.scale, workDir)
      : await preparePostgres(
          config.scale,
          config.adminUrl,
          config.databaseUrl,
          config.databaseName,
        );
  const { counts } = prepared;
  log(
    `  generated in ${num(prepared.seconds)} s: ${counts.companies} companies, ${counts.chips} chips, ` +
      `${counts.policyDecisions} decisions (${counts.policyDecisionChips} chip links, ` +
      `${counts.policyDecisionCompanies} company links), ${counts.demandSignals} demand signals`,
  );
  try {
    const floor = await measure(config, prepared, 'floor', outDir, () => false);
    const gateway = await measure(config, prepared, 'gateway', outDir, (figures) => {
      if (config.profile === 'always') return true;
      if (config.profile === 'never' || backend !== 'postgres') return false;
      return missesTargets(figures, floor.figures);
    });
    return {
      backend,
      description: backend === 'pglite' ? 'PGlite (in memory)' : describeUrl(config.databaseUrl),
      counts,
      generateSeconds: prepared.seconds,
      floor: floor.figures,
      gateway: gateway.figures,
      comparison: compareBodies(gateway.body, floor.body),
      gatewayBody: gateway.body,
    };
  } finally {
    await prepared.dispose();
  }
}

/** A file-name-safe timestamp. */
function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

const mb = (bytes: number) => bytes / (1024 * 1024);

/** Prints the results table, the answer checks, the targets and any profile summaries. */
function printResults(config: BenchConfig, results: BackendResult[]): void {
  if (results.length === 0) return;
  const rows = results.flatMap((result) =>
    [result.gateway, result.floor].map((run) => [
      run.backend,
      run.kind,
      num(run.load.requestsPerSecond),
      num(run.load.p50Ms, 0),
      num(run.load.p99Ms, 0),
      num(run.statementsPerRequest, 2),
      num(run.cpuMsPerRequest, 2),
      num(mb(run.measurement.maxRssBytes), 0),
      String(run.records),
      num(run.responseBytes / 1024, 0),
      run.kind === 'gateway'
        ? num(run.load.requestsPerSecond / result.floor.load.requestsPerSecond, 2)
        : '1.00',
    ]),
  );
  log(
    `\nResults: S=${config.scale}, companies(first: ${FIRST}), ${config.connections} connections, ` +
      `${config.durationSeconds} s per run after ${config.warmupSeconds} s warm-up`,
  );
  log(
    table(
      [
        'backend',
        'server',
        'req/s',
        'p50 ms',
        'p99 ms',
        'SQL/req',
        'CPU ms/req',
        'peak RSS MB',
        'records/resp',
        'KB/resp',
        'x floor',
      ],
      rows,
    ),
  );
  log(
    '  CPU ms/req: user+system CPU of the server process (not the load generator) / responses;' +
      ' on PGlite it includes the embedded database.',
  );
  log('  peak RSS: the server process high-water mark (ru_maxrss).');

  for (const result of results) {
    for (const run of [result.gateway, result.floor]) {
      const { load, measurement } = run;
      const issues: string[] = [];
      if (load.errors > 0) issues.push(`${load.errors} connection errors/timeouts`);
      if (load.non2xx > 0) issues.push(`${load.non2xx} non-2xx responses`);
      if (issues.length > 0) log(`  WARNING ${run.backend} ${run.kind}: ${issues.join(', ')}`);
      if (Math.abs(measurement.requests - load.requests) > config.connections) {
        log(
          `  note ${run.backend} ${run.kind}: server counted ${measurement.requests} responses, ` +
            `client ${load.requests}`,
        );
      }
    }
  }

  log('\nSame answer?');
  for (const result of results) {
    const { comparison } = result;
    log(
      `  ${result.backend}: gateway vs floor: ${
        comparison.equal
          ? `match (equal as JSON${comparison.identical ? ', identical bytes' : '; bytes differ only in layout'})`
          : `DIFFERENT, first difference at ${comparison.firstDifference}`
      }`,
    );
  }
  const [first, second] = results;
  if (first && second) {
    const cross = compareBodies(first.gatewayBody, second.gatewayBody);
    log(
      `  gateway on ${first.backend} vs on ${second.backend}: ${
        cross.equal ? 'match' : `DIFFERENT, first difference at ${cross.firstDifference}`
      }`,
    );
  }

  const server = results.find((result) => result.backend === 'postgres');
  if (server) {
    const { gateway, floor } = server;
    const ratio = gateway.load.requestsPerSecond / floor.load.requestsPerSecond;
    const scaleNote =
      config.scale === TARGET_SCALE
        ? `S=${TARGET_SCALE}`
        : `defined at S=${TARGET_SCALE}, this run is S=${config.scale}`;
    log(`\nTargets (real server, ${scaleNote}, ${gateway.records} records/response):`);
    log(
      table(
        ['target', 'measured', 'result'],
        [
          [
            `Node CPU per request <= ${TARGET_CPU_MS_PER_REQUEST} ms`,
            `${num(gateway.cpuMsPerRequest, 2)} ms`,
            gateway.cpuMsPerRequest <= TARGET_CPU_MS_PER_REQUEST ? 'PASS' : 'MISS',
          ],
          [
            `Throughput >= ${TARGET_FLOOR_RATIO} x floor`,
            `${num(ratio, 2)} x`,
            ratio >= TARGET_FLOOR_RATIO ? 'PASS' : 'MISS',
          ],
        ],
      ),
    );
  }

  for (const result of results) {
    const profile = result.gateway.profile;
    if (!profile) continue;
    const { summary } = profile;
    log(
      `\nWhere the gateway's CPU goes (${result.backend}, ${profile.seconds} s profiled under load, ` +
        `${profile.requests} responses, ${num(summary.busyMs / 1000, 2)} s busy, ` +
        `${num(summary.idleMs / 1000, 2)} s idle; the profiler adds some overhead):`,
    );
    log(
      table(
        ['self time by layer', 'ms', 'share', '~ms/req'],
        summary.layers.map((entry) => [
          entry.name,
          num(entry.selfMs, 0),
          `${num(entry.share * 100)}%`,
          num(entry.share * result.gateway.cpuMsPerRequest, 2),
        ]),
      ),
    );
    log('');
    log(
      table(
        ['self time by package', 'ms', 'share'],
        summary.packages.map((entry) => [
          entry.name,
          num(entry.selfMs, 0),
          `${num(entry.share * 100)}%`,
        ]),
      ),
    );
    log('');
    log(
      table(
        ['top functions by self time', 'where', 'ms', 'share'],
        summary.functions.map((entry) => [
          entry.name,
          entry.location,
          num(entry.selfMs, 0),
          `${num(entry.share * 100)}%`,
        ]),
      ),
    );
    log("  ~ms/req: the layer's share of the profile times the CPU per request measured above.");
    log(`  full profile: ${path.relative(process.cwd(), profile.file)} (open in Chrome DevTools)`);
  }
}

/** Runs every backend and prints the report; false when a backend failed. */
async function main(): Promise<boolean> {
  const config = loadBenchConfig();
  // Git-ignored and outside biome's reach (bench/results would be linted as JSON).
  const outDir = fileURLToPath(new URL('../.chipgate/bench/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const workDir = mkdtempSync(path.join(tmpdir(), 'chipgate-bench-'));
  // The run must end by itself, whatever hangs.
  const budgetMs =
    10 * 60_000 +
    config.backends.length *
      2 *
      (config.warmupSeconds + config.durationSeconds + config.profileSeconds) *
      1000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${budgetMs / 1000} s, giving up\n`);
    process.exit(1);
  }, budgetMs);
  watchdog.unref();

  log(
    `chipgate bench: S=${config.scale}, backends ${config.backends.join(', ')}, ` +
      `${config.durationSeconds} s per run after ${config.warmupSeconds} s warm-up, ` +
      `${config.connections} connections, profile ${config.profile}, ` +
      `servers with NODE_ENV=${TARGET_NODE_ENV}`,
  );
  log(
    `  ${cpus().length} CPUs, load average ${num(loadavg()[0], 2)} at start ` +
      '(other work on the machine skews every figure)',
  );
  const results: BackendResult[] = [];
  const failures: string[] = [];
  try {
    for (const backend of config.backends) {
      try {
        results.push(await runBackend(config, backend, workDir, outDir));
      } catch (error) {
        // One backend failing (e.g. no server listening) still leaves the other's figures.
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        log(`  ${backend} FAILED: ${message}`);
        failures.push(`${backend}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  printResults(config, results);
  for (const failure of failures) log(`\nFAILED ${failure}`);
  const file = path.join(outDir, `bench-${stamp()}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        config: { ...config, databaseUrl: describeUrl(config.databaseUrl), adminUrl: undefined },
        results: results.map(({ gatewayBody: _body, ...rest }) => rest),
      },
      null,
      2,
    )}\n`,
  );
  log(`\nFigures saved to ${path.relative(process.cwd(), file)}`);
  return failures.length === 0;
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
