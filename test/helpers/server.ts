/**
 * Real gateways on a real socket (127.0.0.1), for transport and process tests: in process
 * (`startGateway` on an ephemeral port) or as a child process (`node --import tsx src/server.ts`).
 * Schema tests use `gateway.ts` (in-process `yoga.fetch`) instead.
 *
 * Every child is tracked; call `killChildren()` in `afterAll` so none outlives its test file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { inject } from 'vitest';
import { type Database, openDatabase, wrapPglite } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { seed } from '../../src/db/seed.js';
import { loadEnv } from '../../src/env.js';
import { type GatewayHooks, type RunningGateway, startGateway } from '../../src/server.js';
import { backend, createTestDatabase } from './database.js';
import { LIFTED_LIMITS } from './gateway.js';

/** The repository root (the child's working directory). */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** How long a child may take to print its listening line (cold PGlite start with seed ~7 s). */
export const START_TIMEOUT_MS = 60_000;

const tempDirs = new Set<string>();

/** A new empty temporary directory, removed by `removeTempDirs()`. */
export function makeTempDir(prefix = 'chipgate-server-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Removes every directory `makeTempDir` created (call after the children using them exited). */
export function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let templateDump: Blob | undefined;

async function pgliteTemplate(): Promise<Blob> {
  if (templateDump) return templateDump;
  const file = inject('pgliteTemplate');
  if (file) {
    templateDump = new Blob([readFileSync(file)]);
    return templateDump;
  }
  // A PostgreSQL run has no PGlite template; build one (once per test file).
  const client = await PGlite.create('memory://');
  const handle = await wrapPglite(client);
  try {
    await runMigrations(handle);
    await seed(handle.db);
    templateDump = await client.dumpDataDir('none');
  } finally {
    await handle.close();
  }
  return templateDump;
}

/**
 * A PGlite data directory (`<tmp>/pgdata`, its lock file beside it) already migrated and seeded
 * from the run's template, so a gateway opens it in about a second and does not seed again.
 */
export async function seededPgliteDir(): Promise<string> {
  const dir = path.join(makeTempDir(), 'pgdata');
  mkdirSync(dir);
  const client = await PGlite.create(dir, { loadDataDir: await pgliteTemplate() });
  await client.close();
  return dir;
}

/** Environment variables that point a gateway at a fresh seeded database, and its cleanup. */
export interface GatewayDatabase {
  env: Record<string, string>;
  /** Drops the database (server runs); call after every gateway using it stopped. */
  cleanup(): Promise<void>;
}

/**
 * A fresh seeded database on the run's backend: a database on the `DATABASE_URL` server, or a
 * seeded PGlite directory (one process at a time).
 */
export async function gatewayDatabase(): Promise<GatewayDatabase> {
  if (backend === 'postgres') {
    const database = await createTestDatabase();
    if (!database.url) throw new Error('createTestDatabase gave no URL on a server run');
    return { env: { DATABASE_URL: database.url }, cleanup: () => database.close() };
  }
  return { env: { CHIPGATE_PGLITE_DIR: await seededPgliteDir() }, cleanup: async () => {} };
}

/**
 * Runs `write` on `database` while no gateway holds it (PGlite allows one process at a time),
 * through a connection of its own, closed afterwards.
 */
export async function withGatewayDatabase(
  database: GatewayDatabase,
  write: (db: Database) => Promise<void>,
): Promise<void> {
  const handle = await openDatabase({
    databaseUrl: database.env.DATABASE_URL,
    ...(database.env.CHIPGATE_PGLITE_DIR ? { pgliteDir: database.env.CHIPGATE_PGLITE_DIR } : {}),
    poolMax: 1,
  });
  try {
    await write(handle.db);
  } finally {
    await handle.close();
  }
}

/** A gateway started in this process with `startGateway`, listening on 127.0.0.1. */
export interface InProcessGateway {
  /** e.g. `http://127.0.0.1:41234/graphql` */
  url: string;
  /** e.g. `http://127.0.0.1:41234` */
  origin: string;
  running: RunningGateway;
  /** Stops the gateway and drops its database (unless it was given one). */
  stop(): Promise<void>;
}

/**
 * Starts `startGateway` on an ephemeral port of 127.0.0.1 over a fresh seeded database of the
 * run's backend (or `database`, e.g. one several gateways share); `vars` are configuration
 * variables (e.g. `CHIPGATE_CORS_ORIGINS`), `log` a pino logger to read what the gateway logs,
 * `hooks` e.g. a statement logger.
 */
export async function startInProcessGateway(
  vars: Record<string, string> = {},
  log?: Parameters<typeof startGateway>[1],
  shared?: GatewayDatabase,
  hooks: GatewayHooks = {},
): Promise<InProcessGateway> {
  const database = shared ?? (await gatewayDatabase());
  // loadEnv refuses port 0 (CHIPGATE_PORT must be 1-65535); the parsed value can still be 0.
  const env = {
    ...loadEnv({ CHIPGATE_LOG_LEVEL: 'silent', ...LIFTED_LIMITS, ...database.env, ...vars }),
    CHIPGATE_HOST: '127.0.0.1',
    CHIPGATE_PORT: 0,
  };
  const cleanup = () => (shared ? Promise.resolve() : database.cleanup());
  let running: RunningGateway;
  try {
    running = await startGateway(env, log, hooks);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    url: running.url,
    origin: new URL(running.url).origin,
    running,
    async stop() {
      try {
        await running.stop();
      } finally {
        await cleanup();
      }
    },
  };
}

/** A port that was free on 127.0.0.1 a moment ago (children get one; `startChildGateway` retries). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One pino line of the child's stdout (non-JSON lines come as `{ msg, raw: true }`). */
export interface LogLine {
  msg: string;
  level?: number;
  [key: string]: unknown;
}

/** How a child ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running (or finished) `src/server.ts` child process. */
export interface SpawnedGateway {
  child: ChildProcess;
  pid: number;
  /** Every stdout line so far, parsed. */
  logs: LogLine[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<ExitStatus>;
  /**
   * Resolves with the first log line (past or future, from index `since` of `logs` on) whose
   * `msg` matches; rejects on exit or timeout.
   */
  waitForLog(match: string | RegExp, timeoutMs?: number, since?: number): Promise<LogLine>;
  /** Resolves with the exit status; rejects when the process is still running after the timeout. */
  waitForExit(timeoutMs?: number): Promise<ExitStatus>;
  /** Sends SIGTERM and waits for the exit. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

/** A child gateway that printed its listening line. */
export interface ChildGateway extends SpawnedGateway {
  /** e.g. `http://127.0.0.1:41234/graphql`, from the log line's `url` field. */
  url: string;
  /** e.g. `http://127.0.0.1:41234` */
  origin: string;
}

const children = new Set<ChildProcess>();

/**
 * The environment a child gets: ours without chipgate's variables, with `npm start`'s
 * NODE_ENV=production (vitest's is `test`), plus `vars`.
 */
function childEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('CHIPGATE_') || key === 'DATABASE_URL' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return {
    ...env,
    NODE_ENV: 'production',
    CHIPGATE_HOST: '127.0.0.1',
    ...LIFTED_LIMITS,
    ...vars,
  };
}

function describeExit({ code, signal }: ExitStatus): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/**
 * Spawns `node --import tsx src/start.ts` (what `npm start` runs, without the `tsx` CLI's
 * extra parent process, so signals reach the gateway itself) with our environment minus
 * chipgate's variables, plus `vars` (host 127.0.0.1 unless `vars` says otherwise). Does not
 * wait for anything.
 */
export function spawnGateway(vars: Record<string, string>): SpawnedGateway {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('src', 'start.ts')], {
    cwd: repoRoot,
    env: childEnv(vars),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not spawn the gateway process');
  children.add(child);
  const logs: LogLine[] = [];
  let stderr = '';
  let exitStatus: ExitStatus | undefined;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };

  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line, raw: true });
      }
    }
    notify();
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  // 'close' (not 'exit'): stdout and stderr are fully read by then.
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('close', (code, signal) => {
      children.delete(child);
      exitStatus = { code, signal };
      resolve(exitStatus);
      notify();
    });
  });

  const gateway: SpawnedGateway = {
    child,
    pid: child.pid,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = START_TIMEOUT_MS, since = 0) {
      const matches = (line: LogLine) =>
        typeof match === 'string' ? line.msg?.includes(match) : match.test(line.msg ?? '');
      return new Promise<LogLine>((resolve, reject) => {
        const check = () => {
          const found = logs.slice(since).find(matches);
          if (found) {
            done();
            resolve(found);
          } else if (exitStatus) {
            done();
            reject(
              new Error(
                `gateway exited (${describeExit(exitStatus)}) before logging ${match}\n` +
                  `stderr: ${stderr}\nstdout: ${logs.map((l) => l.msg).join('\n')}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no log line ${match} within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    waitForExit(timeoutMs = 30_000) {
      return new Promise<ExitStatus>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`gateway ${child.pid} still running after ${timeoutMs} ms`)),
          timeoutMs,
        );
        void exited.then((status) => {
          clearTimeout(timer);
          resolve(status);
        });
      });
    },
    async stop(timeoutMs = 30_000) {
      if (!exitStatus) child.kill('SIGTERM');
      return gateway.waitForExit(timeoutMs);
    },
  };
  return gateway;
}

/**
 * Starts a child gateway and waits for its "chipgate listening" line. Without `CHIPGATE_PORT`
 * in `vars` it takes a free port of 127.0.0.1, and tries another if that one was taken
 * meanwhile. Rejects (with the child's stderr) when the child exits first.
 */
export async function startChildGateway(
  vars: Record<string, string>,
  timeoutMs = START_TIMEOUT_MS,
): Promise<ChildGateway> {
  for (let attempt = 1; ; attempt++) {
    const port = vars.CHIPGATE_PORT ?? String(await freePort());
    const spawned = spawnGateway({ ...vars, CHIPGATE_PORT: port });
    try {
      const line = await spawned.waitForLog('chipgate listening', timeoutMs);
      const url = String(line.url);
      return { ...spawned, url, origin: new URL(url).origin };
    } catch (error) {
      if (!spawned.child.killed && spawned.child.exitCode === null) spawned.child.kill('SIGKILL');
      const status = await spawned.exited;
      const portTaken = status.code === 1 && spawned.stderr().includes('EADDRINUSE');
      if (!portTaken || vars.CHIPGATE_PORT || attempt >= 3) throw error;
    }
  }
}

/**
 * Kills every child still running (SIGKILL) and waits for it to exit. For `afterAll`; tests
 * that care how a child ends stop it themselves first.
 */
export async function killChildren(): Promise<void> {
  const running = [...children];
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(
    running.map((child) =>
      child.exitCode !== null || child.signalCode !== null ? undefined : once(child, 'close'),
    ),
  );
}

/** The JSON body and status of a GraphQL POST. */
export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * POSTs an operation as JSON over the socket (10 s timeout: a hang fails the test), with any
 * extra `headers` (e.g. `authorization`).
 */
export async function postGraphQL<T = any>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<HttpResult<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

/**
 * A child process that takes the PGlite directory lock of `dir` (as a running gateway would)
 * and holds it until killed; `lockOptions` are `acquireDirectoryLock`'s, `owner` what it then
 * claims to be in the owner file (another container). Resolves once it holds the lock.
 */
export async function spawnLockHolder(
  dir: string,
  lockOptions: { staleMs?: number; updateMs?: number } = {},
  owner?: { pid: number; host: string },
): Promise<ChildProcess> {
  const claim = owner
    ? `writeFileSync(${JSON.stringify(`${dir}.lock.owner`)}, ${JSON.stringify(JSON.stringify(owner))});`
    : '';
  const holder = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { writeFileSync } from 'node:fs';
       import { acquireDirectoryLock } from ${JSON.stringify(path.join(repoRoot, 'src/db/lock.ts'))};
       await acquireDirectoryLock(${JSON.stringify(dir)}, ${JSON.stringify(lockOptions)});
       ${claim}
       console.log('locked');
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.add(holder);
  holder.once('close', () => children.delete(holder));
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
    holder.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return holder;
}

/**
 * Waits until at least `needMs` remain in the current limit window (a fixed wall-clock minute,
 * see `src/access/counters.ts`), so a test that counts requests against a per-minute limit
 * of a real server (which has no injectable clock) never sees the window roll over midway.
 * Waits at most `needMs`.
 */
export async function clearOfMinuteBoundary(needMs = 15_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

/** The `msg` of each log line a gateway wrote, in order. */
export function messages(gateway: { logs: { msg: string }[] }): string[] {
  return gateway.logs.map((line) => line.msg);
}
