/**
 * `npm run bench`: the gateway's read path, old and planned, against a raw-SQL floor.
 *
 * For each backend (in-memory PGlite, then the PostgreSQL server):
 * 1. generate a database at scale factor S (`generate.ts`);
 * 2. for each path (BENCH_PATHS): the floor (`target.ts`: one hand-written JSON-aggregating
 *    SQL statement per request), the gateway with the planner off (old path), the gateway with
 *    the planner on (planned path), each in its own process:
 *    - send every request of both workloads once and check it (200, data, no errors);
 *    - reference run: the nested reference query, warm-up, then BENCH_CONNECTIONS connections
 *      for BENCH_DURATION seconds (closed loop);
 *    - hot run: the hot operation (`hot-workload.ts`, varying variables), the same way;
 *    - rate run: the reference query at BENCH_RATE requests/s (open loop), for latency below
 *      saturation;
 *    - on PostgreSQL, the server backends' CPU over each closed-loop window (`server-cpu.ts`);
 * 3. check that every path answered every request alike (and alike across backends);
 * 4. judge the planned path against the old one (PostgreSQL, reference run) and, when a
 *    target is missed, profile the planned path and print where its CPU goes.
 * Prints one table per backend and writes the figures and profiles to `.chipgate/bench/`
 * (git-ignored). Exits 1 when a backend failed, a response was not a 200 with data and no
 * errors, or two paths answered differently. Settings: see `config.ts`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEnv } from '../src/env.js';
import { type BenchConfig, describeUrl, loadBenchConfig } from './config.js';
import { type PreparedDatabase, preparePglite, preparePostgres } from './databases.js';
import { HOT_WORKLOAD } from './hot-workload.js';
import {
  describeProblems,
  hasProblems,
  type ResponseProblems,
  runAtRate,
  runLoad,
} from './load.js';
import { answersOf, closedRun } from './measure.js';
import { type CpuProfile, summarizeProfile } from './profile.js';
import type { Backend, BenchPath } from './protocol.js';
import { log, num, progressLog } from './report.js';
import {
  type BackendResult,
  type ClosedRun,
  judgeTargets,
  type PathFigures,
  printAnswerChecks,
  printBackend,
  printProfiles,
  printTargets,
  targetFiguresOf,
} from './results.js';
import { ServerCpuMeter } from './server-cpu.js';
import { TARGET_NODE_ENV, TargetProcess } from './target-process.js';
import { REFERENCE_WORKLOAD, requestBodies, type Workload } from './workload.js';

const WORKLOADS: readonly Workload[] = [REFERENCE_WORKLOAD, HOT_WORKLOAD];

/** A progress line, with the time since the run started. */
const progress = progressLog();

/** Problems that make the run fail (exit 1) but leave the figures worth printing. */
const failures: string[] = [];

/** What a path's measurement needs besides the path. */
interface PathContext {
  config: BenchConfig;
  prepared: PreparedDatabase;
  /** Measures the server backends' CPU (PostgreSQL only). */
  serverCpu?: ServerCpuMeter;
  outDir: string;
}

/** Records a run's bad responses as a failure. */
function checkRun(label: string, result: ResponseProblems): void {
  if (hasProblems(result)) {
    const message = `${label}: ${describeProblems(result)}`;
    log(`  FAILED ${message}`);
    failures.push(message);
  }
}

/** Warm-up, then one measured closed-loop window of `workload`; bad responses fail the run. */
async function closedRunChecked(
  context: PathContext,
  target: TargetProcess,
  label: string,
  workload: Workload,
): Promise<ClosedRun> {
  const { config, serverCpu } = context;
  const run = await closedRun(target, label, workload, {
    warmupSeconds: config.warmupSeconds,
    durationSeconds: config.durationSeconds,
    connections: config.connections,
    serverCpu,
    progress,
  });
  checkRun(`${label} ${workload.name}`, run.load);
  return run;
}

/** A file-name-safe timestamp. */
function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

/**
 * Starts one path's server, checks its answers, runs the configured runs and, when
 * `wantProfile` says so afterwards, profiles it under the reference query.
 */
async function measurePath(
  context: PathContext,
  benchPath: BenchPath,
  wantProfile: (figures: PathFigures) => boolean,
): Promise<PathFigures> {
  const { config, prepared, outDir } = context;
  const backend = prepared.target.backend;
  const label = `${backend} ${benchPath}`;
  progress(`${label}: starting`);
  const target = await TargetProcess.start({
    ...prepared.target,
    path: benchPath,
    poolMax: loadEnv({}).CHIPGATE_DB_POOL_MAX,
  });
  try {
    progress(`${label}: checking every request once`);
    const figures: PathFigures = {
      path: benchPath,
      answers: {
        reference: await answersOf(target.url, label, REFERENCE_WORKLOAD),
        hot: await answersOf(target.url, label, HOT_WORKLOAD),
      },
    };
    if (config.runs.includes('reference')) {
      figures.reference = await closedRunChecked(context, target, label, REFERENCE_WORKLOAD);
    }
    if (config.runs.includes('hot')) {
      figures.hot = await closedRunChecked(context, target, label, HOT_WORKLOAD);
    }
    if (config.runs.includes('rate')) {
      progress(`${label} reference: ${config.rate} req/s for ${config.durationSeconds} s`);
      figures.rate = await runAtRate(
        target.url,
        config.rate,
        config.durationSeconds,
        requestBodies(REFERENCE_WORKLOAD),
      );
      checkRun(`${label} reference at ${config.rate} req/s`, figures.rate);
    }
    if (wantProfile(figures)) {
      const file = path.join(outDir, `${benchPath}-${backend}-${stamp()}.cpuprofile`);
      progress(`${label}: profiling ${config.profileSeconds} s`);
      await target.startProfiling();
      const profiled = await runLoad(
        target.url,
        config.profileSeconds,
        config.connections,
        requestBodies(REFERENCE_WORKLOAD),
      );
      await target.stopProfiling(file);
      figures.profile = {
        file,
        seconds: config.profileSeconds,
        requests: profiled.requests,
        summary: summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, 15),
      };
    }
    return figures;
  } finally {
    await target.stop();
  }
}

/** Whether to profile a path once its runs are done. */
function profileWanted(
  config: BenchConfig,
  backend: Backend,
  figures: PathFigures,
  old: PathFigures | undefined,
): boolean {
  if (figures.path === 'floor' || config.profile === 'never') return false;
  if (config.profile === 'always') return true;
  // auto: the planned path on the real server, when it misses a target against the old path.
  if (backend !== 'postgres' || figures.path !== 'planned') return false;
  const oldFigures = targetFiguresOf(old);
  const plannedFigures = targetFiguresOf(figures);
  if (!oldFigures || !plannedFigures) return false;
  return judgeTargets(oldFigures, plannedFigures).some((verdict) => verdict.pass === false);
}

/** Generates one backend's database, measures every path on it, drops it. */
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
  const serverCpu =
    backend === 'postgres' ? ServerCpuMeter.open(config.adminUrl, config.databaseName) : undefined;
  try {
    const context: PathContext = { config, prepared, outDir, ...(serverCpu ? { serverCpu } : {}) };
    const paths: BackendResult['paths'] = {};
    for (const benchPath of config.paths) {
      paths[benchPath] = await measurePath(context, benchPath, (figures) =>
        profileWanted(config, backend, figures, paths.old),
      );
    }
    return {
      backend,
      description: backend === 'pglite' ? 'PGlite (in memory)' : describeUrl(config.databaseUrl),
      counts,
      generateSeconds: prepared.seconds,
      paths,
    };
  } finally {
    await serverCpu?.close();
    await prepared.dispose();
  }
}

/** Seconds a whole run may take before the watchdog ends it. */
function budgetSeconds(config: BenchConfig): number {
  const closed = config.warmupSeconds + config.durationSeconds;
  const perPath =
    60 +
    (config.runs.includes('reference') ? closed : 0) +
    (config.runs.includes('hot') ? closed : 0) +
    (config.runs.includes('rate') ? config.durationSeconds + 30 : 0) +
    config.profileSeconds;
  return 10 * 60 + config.backends.length * config.paths.length * perPath;
}

/** Runs every backend and prints the report; false when anything failed. */
async function main(config: BenchConfig): Promise<boolean> {
  // Git-ignored and outside biome's reach (bench/results would be linted as JSON).
  const outDir = fileURLToPath(new URL('../.chipgate/bench/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const workDir = mkdtempSync(path.join(tmpdir(), 'chipgate-bench-'));
  // The run must end by itself, whatever hangs.
  const budget = budgetSeconds(config);
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${budget} s, giving up\n`);
    process.exit(1);
  }, budget * 1000);
  watchdog.unref();

  log(
    `chipgate bench: S=${config.scale}, backends ${config.backends.join(', ')}, ` +
      `paths ${config.paths.join(', ')}, runs ${config.runs.join(', ')}; ` +
      `${config.durationSeconds} s per run (closed loop after ${config.warmupSeconds} s warm-up, ` +
      `${config.connections} connections; fixed rate ${config.rate} req/s), ` +
      `profile ${config.profile}, servers with NODE_ENV=${TARGET_NODE_ENV}`,
  );
  log(
    `  ${cpus().length} CPUs, load average ${num(loadavg()[0], 2)} at start ` +
      '(other work on the machine skews every figure)',
  );
  const results: BackendResult[] = [];
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
  for (const result of results) printBackend(config, result, REFERENCE_WORKLOAD, HOT_WORKLOAD);
  for (const mismatch of printAnswerChecks(results, WORKLOADS)) {
    failures.push(`different answers: ${mismatch.what}: ${mismatch.difference}`);
  }
  printTargets(config, results);
  printProfiles(results);
  for (const failure of failures) log(`\nFAILED ${failure}`);
  const file = path.join(outDir, `bench-${stamp()}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        config: { ...config, databaseUrl: describeUrl(config.databaseUrl), adminUrl: undefined },
        loadAverageAtEnd: loadavg()[0],
        failures,
        results: results.map((result) => ({
          ...result,
          paths: Object.fromEntries(
            Object.entries(result.paths).map(([name, figures]) => [
              name,
              {
                ...figures,
                answers: Object.fromEntries(
                  Object.entries(figures.answers).map(([workload, { bodies: _, ...rest }]) => [
                    workload,
                    rest,
                  ]),
                ),
              },
            ]),
          ),
        })),
      },
      null,
      2,
    )}\n`,
  );
  log(`\nFigures saved to ${path.relative(process.cwd(), file)}`);
  return failures.length === 0;
}

let settings: BenchConfig;
try {
  settings = loadBenchConfig();
} catch (error) {
  // A bad setting is the user's to fix: the message names every one, no stack needed.
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}

main(settings).then(
  (ok) => process.exit(ok ? 0 : 1),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
