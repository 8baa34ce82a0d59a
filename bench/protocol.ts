/**
 * Messages between the benchmark driver (`run.ts`) and a target process (`target.ts`, the
 * gateway on one of its read paths, or the floor), over the `fork` IPC channel. The target measures itself (CPU, RSS,
 * requests served, SQL statements sent), so the load generator's own work is never counted.
 */

/**
 * Which server a target process runs: `floor` (the hand-written SQL behind a bare handler),
 * `old` (the gateway with `planner: 'off'`, every field through its resolver) or `planned`
 * (the gateway with `planner: 'on'`).
 */
export type BenchPath = 'floor' | 'old' | 'planned';

/** Every path, in the order a run measures them (the planned path is judged against `old`). */
export const BENCH_PATHS: readonly BenchPath[] = ['floor', 'old', 'planned'];

/** Which database a target process uses. */
export type Backend = 'pglite' | 'postgres';

/** How a target process is started (passed as JSON in `argv[2]`). */
export interface TargetOptions {
  path: BenchPath;
  backend: Backend;
  /** postgres:// URL (backend `postgres`). */
  databaseUrl?: string;
  /** Path of a PGlite `dumpDataDir` tarball to load into memory (backend `pglite`). */
  pgliteDump?: string;
  /** Upper bound of the postgres.js pool. */
  poolMax: number;
  /**
   * Backend `postgres`, the gateway: `CHIPGATE_DATABASE_PREPARE` (probing the server first) and
   * `CHIPGATE_DATABASE_DIRECT_URL` (the LISTEN session) when `databaseUrl` is a pooler
   * (`pooler.ts`); absent: prepared statements, no probe, as before.
   */
  prepare?: 'auto' | 'on' | 'off';
  directUrl?: string;
  /**
   * The operations plugins of the gateway (`ops.ts`); absent: none of them, as `run.ts`
   * measures it. Ignored by the floor.
   */
  ops?: OpsOptions;
}

/** Which operations plugins a gateway target runs with. */
export interface OpsOptions {
  /** Prometheus metrics (`createMetrics`), as `src/server.ts` always has them. */
  metrics: boolean;
  /** OTLP/HTTP base URL to export traces to (`OTEL_EXPORTER_OTLP_ENDPOINT`); none: no SDK. */
  otlpEndpoint?: string;
  /** Response cache lifetime in seconds (`CHIPGATE_RESPONSE_CACHE_TTL_S`); 0: no cache. */
  responseCacheTtlSeconds: number;
}

/** What the target measured between `measure-start` and `measure-stop`. */
export interface Measurement {
  /** HTTP responses finished in the window. */
  requests: number;
  /** SQL statements sent in the window. */
  statements: number;
  /** CPU time of the whole target process in the window, in microseconds. */
  cpuUserMicros: number;
  cpuSystemMicros: number;
  /** Wall time of the window, in milliseconds. */
  elapsedMs: number;
  /** Highest RSS sampled (every 20 ms) during the window, in bytes. */
  windowPeakRssBytes: number;
  /** The kernel's high-water mark of the process's RSS since it started, in bytes. */
  maxRssBytes: number;
}

/** Driver -> target. */
export type DriverMessage =
  | { type: 'measure-start' }
  | { type: 'measure-stop' }
  | { type: 'profile-start' }
  /** Stops the profiler and writes the `.cpuprofile` to `file`. */
  | { type: 'profile-stop'; file: string }
  | { type: 'shutdown' };

/** Target -> driver. */
export type TargetMessage =
  | { type: 'ready'; url: string }
  /** `measure-start` or `profile-start` took effect. */
  | { type: 'ack' }
  | { type: 'measurement'; measurement: Measurement }
  | { type: 'profile-written'; file: string }
  | { type: 'failed'; message: string };
