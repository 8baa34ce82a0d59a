/**
 * Benchmark settings, from environment variables (every one optional):
 *
 * | variable               | default                                   | meaning                                        |
 * | ---------------------- | ----------------------------------------- | ---------------------------------------------- |
 * | BENCH_SCALE            | 10                                        | scale factor S (100·S companies)               |
 * | BENCH_DURATION         | 10                                        | seconds of each measured load run              |
 * | BENCH_WARMUP           | 3                                         | seconds of load before each measured run       |
 * | BENCH_CONNECTIONS      | 10                                        | concurrent HTTP connections (autocannon)       |
 * | BENCH_BACKENDS         | pglite,postgres                           | which databases to run against                 |
 * | BENCH_PROFILE          | auto                                      | CPU profile of the gateway: auto (when a       |
 * |                        |                                           | target is missed), always, never               |
 * | BENCH_PROFILE_DURATION | 5                                         | seconds of load while profiling                |
 * | DATABASE_URL           | postgres://postgres@127.0.0.1:5432/postgres | the server; the benchmark creates, uses and  |
 * |                        |                                           | drops its own database on it (BENCH_DATABASE)  |
 * | BENCH_DATABASE         | chipgate_bench                            | name of that database (dropped and recreated)  |
 */
import type { Backend } from './protocol.js';

/** When to take a CPU profile of the gateway. */
export type ProfileMode = 'auto' | 'always' | 'never';

/** Parsed benchmark settings. */
export interface BenchConfig {
  scale: number;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  backends: Backend[];
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

  const backends: Backend[] = [];
  for (const name of (env.BENCH_BACKENDS?.trim() || 'pglite,postgres').split(',')) {
    const backend = name.trim();
    if (backend === 'pglite' || backend === 'postgres') {
      if (!backends.includes(backend)) backends.push(backend);
    } else {
      problems.push(
        `BENCH_BACKENDS: unknown backend ${JSON.stringify(backend)} (pglite, postgres)`,
      );
    }
  }

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
