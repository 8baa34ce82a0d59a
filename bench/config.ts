/**
 * Benchmark settings, from environment variables (every one optional):
 *
 * | variable               | default                                   | meaning                                        |
 * | ---------------------- | ----------------------------------------- | ---------------------------------------------- |
 * | BENCH_SCALE            | 10                                        | scale factor S (100·S companies)               |
 * | BENCH_DURATION         | 10                                        | seconds of each measured load run              |
 * | BENCH_WARMUP           | 3                                         | seconds of load before each closed-loop run    |
 * | BENCH_CONNECTIONS      | 10                                        | concurrent HTTP connections (closed loop)      |
 * | BENCH_BACKENDS         | pglite,postgres                           | which databases to run against                 |
 * | BENCH_PATHS            | floor,old,planned                         | which servers: raw-SQL floor, gateway with the |
 * |                        |                                           | planner off (old), gateway with it on          |
 * | BENCH_RUNS             | reference,hot,rate                        | which runs: reference query and hot operation  |
 * |                        |                                           | (closed loop), reference query at a fixed rate |
 * | BENCH_RATE             | 20                                        | requests/s of the fixed-rate run               |
 * | BENCH_PROFILE          | auto                                      | CPU profile of the gateway: auto (planned path |
 * |                        |                                           | on PostgreSQL when a target is missed),        |
 * |                        |                                           | always (both gateway paths), never             |
 * | BENCH_PROFILE_DURATION | 5                                         | seconds of load while profiling                |
 * | DATABASE_URL           | postgres://postgres@127.0.0.1:5432/postgres | the server; the benchmark creates, uses and  |
 * |                        |                                           | drops its own database on it (BENCH_DATABASE)  |
 * | BENCH_DATABASE         | chipgate_bench                            | name of that database (dropped and recreated)  |
 */
import { type Backend, BENCH_PATHS, type BenchPath } from './protocol.js';

/** When to take a CPU profile of the gateway. */
export type ProfileMode = 'auto' | 'always' | 'never';

/**
 * A run of each server: `reference` and `hot` load it with a fixed number of connections
 * (closed loop); `rate` sends the reference query at `BENCH_RATE` requests/s (open loop).
 */
export type BenchRun = 'reference' | 'hot' | 'rate';

const BENCH_RUNS: readonly BenchRun[] = ['reference', 'hot', 'rate'];

/** Parsed benchmark settings. */
export interface BenchConfig {
  scale: number;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  backends: Backend[];
  /** Servers to measure, always in the order floor, old, planned. */
  paths: BenchPath[];
  /** Runs of each server, always in the order reference, hot, rate. */
  runs: BenchRun[];
  /** Requests per second of the fixed-rate run. */
  rate: number;
  profile: ProfileMode;
  profileSeconds: number;
  /** URL of the benchmark's own database on the server (dropped and recreated each run). */
  databaseUrl: string;
  /** The same server's `postgres` maintenance database, to create and drop it from. */
  adminUrl: string;
  databaseName: string;
}

const DEFAULT_SERVER = 'postgres://postgres@127.0.0.1:5432/postgres';

function integer(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
    return fallback;
  }
  return value;
}

/**
 * A comma-separated subset of `known` (default: all of them), each once; in the order given,
 * or in the order of `known` when `ordered`.
 */
function list<T extends string>(
  env: Record<string, string | undefined>,
  name: string,
  known: readonly T[],
  problems: string[],
  ordered: boolean,
): T[] {
  const raw = env[name]?.trim();
  if (!raw) return [...known];
  const chosen: T[] = [];
  for (const part of raw.split(',')) {
    const item = known.find((value) => value === part.trim());
    if (item === undefined) {
      problems.push(
        `${name}: unknown value ${JSON.stringify(part.trim())} (expected ${known.join(', ')})`,
      );
    } else if (!chosen.includes(item)) {
      chosen.push(item);
    }
  }
  return ordered ? known.filter((value) => chosen.includes(value)) : chosen;
}

function withDatabase(url: string, database: string): string {
  const copy = new URL(url);
  copy.pathname = `/${database}`;
  return copy.toString();
}

/** Parses the settings; throws one error naming every bad variable. */
export function loadBenchConfig(
  env: Record<string, string | undefined> = process.env,
): BenchConfig {
  const problems: string[] = [];
  const scale = integer(env, 'BENCH_SCALE', 10, 1, 1000, problems);
  const durationSeconds = integer(env, 'BENCH_DURATION', 10, 1, 600, problems);
  const warmupSeconds = integer(env, 'BENCH_WARMUP', 3, 0, 120, problems);
  const connections = integer(env, 'BENCH_CONNECTIONS', 10, 1, 200, problems);
  const profileSeconds = integer(env, 'BENCH_PROFILE_DURATION', 5, 1, 120, problems);

  const rate = integer(env, 'BENCH_RATE', 20, 1, 1000, problems);
  const backends = list(env, 'BENCH_BACKENDS', ['pglite', 'postgres'] as const, problems, false);
  const paths = list(env, 'BENCH_PATHS', BENCH_PATHS, problems, true);
  const runs = list(env, 'BENCH_RUNS', BENCH_RUNS, problems, true);

  const profileRaw = env.BENCH_PROFILE?.trim() || 'auto';
  const profile = (['auto', 'always', 'never'] as const).find((mode) => mode === profileRaw);
  if (!profile)
    problems.push(`BENCH_PROFILE=${JSON.stringify(profileRaw)}: expected auto, always or never`);

  const databaseName = env.BENCH_DATABASE?.trim() || 'chipgate_bench';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(databaseName)) {
    problems.push(
      `BENCH_DATABASE=${JSON.stringify(databaseName)}: expected a plain lower-case name`,
    );
  }
  const server = env.DATABASE_URL?.trim() || DEFAULT_SERVER;
  let databaseUrl = '';
  let adminUrl = '';
  try {
    const url = new URL(server);
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error();
    databaseUrl = withDatabase(server, databaseName);
    adminUrl = withDatabase(server, 'postgres');
  } catch {
    problems.push('DATABASE_URL: expected a URL like postgres://user@127.0.0.1:5432/db');
  }

  if (problems.length > 0) {
    throw new Error(`Invalid benchmark settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return {
    scale,
    durationSeconds,
    warmupSeconds,
    connections,
    backends,
    paths,
    runs,
    rate,
    profile: profile ?? 'auto',
    profileSeconds,
    databaseUrl,
    adminUrl,
    databaseName,
  };
}

/** The server URL without credentials, for printing. */
export function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `postgres://${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
}
