/**
 * The benchmark's figures, the targets they are judged by, and the printed report: one table
 * per backend (floor | old path | planned path | planned/old), the answer checks, the targets
 * (PASS/MISS) and the profiles.
 */
import path from 'node:path';
import type { BenchConfig } from './config.js';
import type { GeneratedCounts } from './generate.js';
import type { LoadResult, RateResult } from './load.js';
import type { ProfileSummary } from './profile.js';
import type { Backend, BenchPath, Measurement } from './protocol.js';
import { log, num, table } from './report.js';
import type { ServerCpu } from './server-cpu.js';
import { type Comparison, compareBodies, type Workload } from './workload.js';

/** Scale factor the targets are defined at. */
export const TARGET_SCALE = 10;

/** What one closed-loop run of one server measured. */
export interface ClosedRun {
  load: LoadResult;
  measurement: Measurement;
  /** Node CPU (user + system) of the server process per response, in milliseconds. */
  nodeCpuMsPerRequest: number;
  /** PostgreSQL backends' CPU (`server-cpu.ts`); absent on PGlite (it is in the Node CPU). */
  serverCpu?: ServerCpu;
  /** `serverCpu` per response, in milliseconds, when available. */
  serverCpuMsPerRequest?: number;
  /** Statements drizzle's logger saw (the gateway) or the floor sent, per response. */
  statementsPerRequest: number;
}

/** One server's answers to every variable set of a workload, checked before any load. */
export interface WorkloadAnswers {
  /** Response bodies, one per variable set. */
  bodies: string[];
  /** Records (connection edge nodes) per response, mean over the variable sets. */
  records: number;
  /** Bytes per response, mean over the variable sets. */
  bytes: number;
}

/** A CPU profile taken after the measured runs. */
export interface ProfileRun {
  file: string;
  seconds: number;
  requests: number;
  summary: ProfileSummary;
}

/** Everything measured for one server (path) on one backend. */
export interface PathFigures {
  path: BenchPath;
  answers: Record<Workload['name'], WorkloadAnswers>;
  reference?: ClosedRun;
  hot?: ClosedRun;
  rate?: RateResult;
  profile?: ProfileRun;
}

/** One backend's runs. */
export interface BackendResult {
  backend: Backend;
  description: string;
  counts: GeneratedCounts;
  generateSeconds: number;
  paths: Partial<Record<BenchPath, PathFigures>>;
}

/** The figures a target compares (planned path vs old path, same run). */
export interface TargetFigures {
  nodeCpuMsPerRequest: number;
  serverCpuMsPerRequest?: number;
  requestsPerSecond: number;
  peakRssBytes: number;
}

/** One target's verdict. */
export interface TargetVerdict {
  name: string;
  unit: string;
  old?: number;
  planned?: number;
  /** planned / old. */
  ratio?: number;
  /** The ratio must be at most `limit` (`atMost`) or at least it. */
  limit: number;
  atMost: boolean;
  /** Undefined when a figure is missing. */
  pass?: boolean;
}

const MB = 1024 * 1024;

/**
 * The targets for the planned path, as ratios to the old path measured in the same run:
 * Node CPU per request at most 1/6, PostgreSQL CPU per request at most 0.6x, throughput at
 * least 2.5x, peak RSS no higher.
 */
export function judgeTargets(old: TargetFigures, planned: TargetFigures): TargetVerdict[] {
  const verdict = (
    name: string,
    unit: string,
    oldValue: number | undefined,
    plannedValue: number | undefined,
    limit: number,
    atMost: boolean,
  ): TargetVerdict => {
    const ratio =
      oldValue !== undefined && plannedValue !== undefined && oldValue > 0
        ? plannedValue / oldValue
        : undefined;
    return {
      name,
      unit,
      old: oldValue,
      planned: plannedValue,
      ratio,
      limit,
      atMost,
      pass: ratio === undefined ? undefined : atMost ? ratio <= limit : ratio >= limit,
    };
  };
  return [
    verdict(
      'Node CPU per request',
      'ms',
      old.nodeCpuMsPerRequest,
      planned.nodeCpuMsPerRequest,
      1 / 6,
      true,
    ),
    verdict(
      'PostgreSQL CPU per request',
      'ms',
      old.serverCpuMsPerRequest,
      planned.serverCpuMsPerRequest,
      0.6,
      true,
    ),
    verdict('throughput', 'req/s', old.requestsPerSecond, planned.requestsPerSecond, 2.5, false),
    verdict('peak RSS', 'MB', old.peakRssBytes / MB, planned.peakRssBytes / MB, 1, true),
  ];
}

/** The target figures of a path's reference run, if it ran. */
export function targetFiguresOf(figures: PathFigures | undefined): TargetFigures | undefined {
  const run = figures?.reference;
  if (!run) return undefined;
  return {
    nodeCpuMsPerRequest: run.nodeCpuMsPerRequest,
    serverCpuMsPerRequest: run.serverCpuMsPerRequest,
    requestsPerSecond: run.load.requestsPerSecond,
    peakRssBytes: run.measurement.maxRssBytes,
  };
}

/** A difference between two servers' answers (or the same server on two backends). */
export interface AnswerMismatch {
  what: string;
  difference: string;
}

/** `left` and `right` answered every variable set of `workload` alike; the first that did not. */
function compareAnswers(
  left: WorkloadAnswers,
  right: WorkloadAnswers,
  workload: Workload,
): { equal: boolean; identical: boolean; difference?: string } {
  let identical = true;
  for (const [i, variables] of workload.variableSets.entries()) {
    const comparison: Comparison = compareBodies(left.bodies[i] ?? '', right.bodies[i] ?? '');
    if (!comparison.equal) {
      return {
        equal: false,
        identical: false,
        difference: `variables ${JSON.stringify(variables)}: ${comparison.firstDifference}`,
      };
    }
    identical &&= comparison.identical;
  }
  return { equal: true, identical };
}

const PATH_LABEL: Record<BenchPath, string> = {
  floor: 'floor',
  old: 'old path',
  planned: 'planned path',
};

/**
 * Prints the answer checks (every pair of servers on each backend, and each server across
 * backends) and returns the mismatches.
 */
export function printAnswerChecks(
  results: BackendResult[],
  workloads: readonly Workload[],
): AnswerMismatch[] {
  const mismatches: AnswerMismatch[] = [];
  const line = (what: string, left: WorkloadAnswers, right: WorkloadAnswers, w: Workload) => {
    const outcome = compareAnswers(left, right, w);
    if (!outcome.equal) mismatches.push({ what, difference: outcome.difference ?? '' });
    log(
      `  ${what}: ${
        outcome.equal
          ? `match (equal as JSON${outcome.identical ? ', identical bytes' : '; bytes differ in layout'})`
          : `DIFFERENT, ${outcome.difference}`
      }`,
    );
  };
  log('\nSame answers? (every variable set, compared as JSON)');
  for (const workload of workloads) {
    for (const result of results) {
      const ran = Object.values(result.paths);
      for (const [i, left] of ran.entries()) {
        for (const right of ran.slice(i + 1)) {
          line(
            `${result.backend} ${workload.name}: ${PATH_LABEL[right.path]} vs ${PATH_LABEL[left.path]}`,
            right.answers[workload.name],
            left.answers[workload.name],
            workload,
          );
        }
      }
    }
    const [first, second] = results;
    if (first && second) {
      for (const figures of Object.values(first.paths)) {
        const other = second.paths[figures.path];
        if (!other) continue;
        line(
          `${workload.name} ${PATH_LABEL[figures.path]}: ${first.backend} vs ${second.backend}`,
          figures.answers[workload.name],
          other.answers[workload.name],
          workload,
        );
      }
    }
  }
  return mismatches;
}

/** Formats `value` for a table cell; `-` when missing. */
function cell(value: number | undefined, digits: number): string {
  return num(value, digits);
}

/** `planned / old` as `0.42x`; `-` when either is missing. */
function ratioCell(old: number | undefined, planned: number | undefined): string {
  if (old === undefined || planned === undefined || !(old > 0)) return '-';
  return `${num(planned / old, 2)}x`;
}

/** A row of a backend table: the metric, then one value per path, then planned/old. */
function metricRow(
  name: string,
  paths: readonly BenchPath[],
  value: (path: BenchPath) => number | undefined,
  digits: number,
  withRatio = true,
): string[] {
  return [
    name,
    ...paths.map((p) => cell(value(p), digits)),
    withRatio ? ratioCell(value('old'), value('planned')) : '-',
  ];
}

/** The PostgreSQL CPU cell of a closed run. */
function serverCpuCell(backend: Backend, run: ClosedRun | undefined): string {
  if (!run) return '-';
  if (backend === 'pglite') return 'in Node CPU';
  if (run.serverCpu && !run.serverCpu.available) return 'n/a';
  return cell(run.serverCpuMsPerRequest, 2);
}

/** Prints one section (a closed-loop run of one workload) of a backend's table. */
function printClosedSection(
  config: BenchConfig,
  result: BackendResult,
  workload: Workload,
  pick: (figures: PathFigures) => ClosedRun | undefined,
): void {
  const paths = config.paths.filter((p) => result.paths[p]);
  const run = (p: BenchPath) => {
    const figures = result.paths[p];
    return figures ? pick(figures) : undefined;
  };
  const answers = (p: BenchPath) => result.paths[p]?.answers[workload.name];
  const serverCpu = (p: BenchPath) => run(p)?.serverCpuMsPerRequest;
  const rows = [
    metricRow('req/s', paths, (p) => run(p)?.load.requestsPerSecond, 1),
    metricRow('p50 ms', paths, (p) => run(p)?.load.p50Ms, 0),
    metricRow('p99 ms', paths, (p) => run(p)?.load.p99Ms, 0),
    metricRow('SQL statements/req', paths, (p) => run(p)?.statementsPerRequest, 2),
    metricRow('Node CPU ms/req', paths, (p) => run(p)?.nodeCpuMsPerRequest, 2),
    [
      'PostgreSQL CPU ms/req',
      ...paths.map((p) => serverCpuCell(result.backend, run(p))),
      result.backend === 'pglite' ? '-' : ratioCell(serverCpu('old'), serverCpu('planned')),
    ],
    metricRow('peak RSS MB', paths, (p) => mbOf(run(p)?.measurement.maxRssBytes), 0),
    metricRow('records/response', paths, (p) => answers(p)?.records, 0, false),
    metricRow('KB/response', paths, (p) => kbOf(answers(p)?.bytes), 1, false),
  ];
  log(
    `\n${workload.title}, ${config.connections} connections (closed loop), ` +
      `${config.durationSeconds} s after ${config.warmupSeconds} s warm-up:`,
  );
  log(
    table(['', ...paths.map((p) => PATH_LABEL[p]), 'planned/old'], rows, [
      false,
      ...paths.map(() => true),
      true,
    ]),
  );
}

const mbOf = (bytes: number | undefined) => (bytes === undefined ? undefined : bytes / MB);
const kbOf = (bytes: number | undefined) => (bytes === undefined ? undefined : bytes / 1024);

/** Prints the fixed-rate section of a backend's table. */
function printRateSection(config: BenchConfig, result: BackendResult, workload: Workload): void {
  const paths = config.paths.filter((p) => result.paths[p]?.rate);
  if (paths.length === 0) return;
  const rate = (p: BenchPath) => result.paths[p]?.rate;
  log(
    `\n${workload.title} at ${config.rate} req/s (open loop: each request on its schedule), ` +
      `${config.durationSeconds} s:`,
  );
  log(
    table(
      ['', ...paths.map((p) => PATH_LABEL[p]), 'planned/old'],
      [
        metricRow('achieved req/s', paths, (p) => rate(p)?.achievedPerSecond, 1),
        metricRow('p50 ms', paths, (p) => rate(p)?.p50Ms, 0),
        metricRow('p99 ms', paths, (p) => rate(p)?.p99Ms, 0),
        metricRow('max ms', paths, (p) => rate(p)?.maxMs, 0),
      ],
      [false, ...paths.map(() => true), true],
    ),
  );
  for (const p of paths) {
    const run = rate(p);
    if (run && (run.skipped > 0 || run.achievedPerSecond < 0.9 * run.rate)) {
      log(
        `  note: the ${PATH_LABEL[p]} did not keep up with ${run.rate} req/s ` +
          `(saturated: its latencies are queueing, not service time` +
          `${run.skipped > 0 ? `; ${run.skipped} requests skipped` : ''})`,
      );
    }
  }
}

/** Prints one backend's tables and the notes on how each figure is measured. */
export function printBackend(
  config: BenchConfig,
  result: BackendResult,
  reference: Workload,
  hot: Workload,
): void {
  log(
    `\n=== ${result.description}, S=${config.scale}: ${result.counts.companies} companies, ` +
      `${result.counts.chips} chips, ${result.counts.policyDecisions} decisions ===`,
  );
  if (config.runs.includes('reference')) {
    printClosedSection(config, result, reference, (figures) => figures.reference);
  }
  if (config.runs.includes('hot')) printClosedSection(config, result, hot, (f) => f.hot);
  if (config.runs.includes('rate')) printRateSection(config, result, reference);
  log('');
  log(
    '  Node CPU: user+system CPU of the server process (not the load generator) / responses' +
      (result.backend === 'pglite' ? '; it includes the embedded database.' : '.'),
  );
  if (result.backend === 'pglite') {
    log('  PostgreSQL CPU: in Node CPU (PGlite runs inside the server process).');
  } else {
    log(
      '  PostgreSQL CPU: utime+stime from /proc/<pid>/stat of the client backends that ' +
        'pg_stat_activity lists for the benchmark database (read at the start, every 0.5 s and ' +
        'at the end of the window) / responses.',
    );
    for (const figures of Object.values(result.paths)) {
      for (const run of [figures.reference, figures.hot]) {
        if (run?.serverCpu && !run.serverCpu.available) {
          log(`  PostgreSQL CPU n/a for the ${PATH_LABEL[figures.path]}: ${run.serverCpu.reason}`);
          break;
        }
      }
    }
  }
  log(
    "  peak RSS: the server process's high-water mark (ru_maxrss) at the end of that run. " +
      "SQL statements: as drizzle's logger sees them (the floor: one per request).",
  );
  for (const figures of Object.values(result.paths)) {
    for (const run of [figures.reference, figures.hot]) {
      if (run && Math.abs(run.measurement.requests - run.load.requests) > config.connections) {
        log(
          `  note ${PATH_LABEL[figures.path]}: server counted ${run.measurement.requests} ` +
            `responses, client ${run.load.requests}`,
        );
      }
    }
  }
}

/** Prints the targets, judged on PostgreSQL's reference run, with PASS or MISS each. */
export function printTargets(config: BenchConfig, results: BackendResult[]): void {
  const server = results.find((result) => result.backend === 'postgres');
  if (!server) return;
  const old = targetFiguresOf(server.paths.old);
  const planned = targetFiguresOf(server.paths.planned);
  const scaleNote =
    config.scale === TARGET_SCALE
      ? `S=${TARGET_SCALE}`
      : `defined at S=${TARGET_SCALE}, this run is S=${config.scale}`;
  log(`\nTargets (PostgreSQL, ${scaleNote}, reference query, planned path / old path):`);
  if (!old || !planned) {
    log('  not judged: the run needs both the old and the planned path and the reference run.');
    return;
  }
  log(
    table(
      ['target', 'old path', 'planned path', 'planned/old', 'limit', 'result'],
      judgeTargets(old, planned).map((verdict) => [
        verdict.name,
        verdict.old === undefined ? '-' : `${num(verdict.old, 2)} ${verdict.unit}`,
        verdict.planned === undefined ? '-' : `${num(verdict.planned, 2)} ${verdict.unit}`,
        verdict.ratio === undefined ? '-' : `${num(verdict.ratio, 2)}x`,
        `${verdict.atMost ? '<=' : '>='} ${num(verdict.limit, 2)}x`,
        verdict.pass === undefined ? 'n/a' : verdict.pass ? 'PASS' : 'MISS',
      ]),
      [false, true, true, true, true, false],
    ),
  );
}

/** Prints where a profiled path's CPU went. */
export function printProfiles(results: BackendResult[]): void {
  for (const result of results) {
    for (const figures of Object.values(result.paths)) {
      const profile = figures.profile;
      if (!profile) continue;
      const cpuMs = figures.reference?.nodeCpuMsPerRequest;
      const { summary } = profile;
      log(
        `\nWhere the ${PATH_LABEL[figures.path]}'s CPU goes (${result.backend}, reference query, ` +
          `${profile.seconds} s profiled under load, ${profile.requests} responses, ` +
          `${num(summary.busyMs / 1000, 2)} s busy, ${num(summary.idleMs / 1000, 2)} s idle; ` +
          'the profiler adds some overhead):',
      );
      log(
        table(
          ['self time by layer', 'ms', 'share', '~ms/req'],
          summary.layers.map((entry) => [
            entry.name,
            num(entry.selfMs, 0),
            `${num(entry.share * 100)}%`,
            cpuMs === undefined ? '-' : num(entry.share * cpuMs, 2),
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
      log(
        "  ~ms/req: the layer's share of the profile times the Node CPU per request measured above.",
      );
      log(
        `  full profile: ${path.relative(process.cwd(), profile.file)} (open in Chrome DevTools)`,
      );
    }
  }
}
