/**
 * A redis-server of a test's own, on a spare port of 127.0.0.1, that the test may stall
 * (SIGSTOP), resume, kill and start again on the same port. Tests never stop the shared Redis
 * on 6379 (other test runs use it); they use this one where they take Redis away.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type GeneratedKey, generateKey } from '../../src/auth.js';
import { insertApiKey } from '../../src/db/api-keys.js';
import { openDatabase } from '../../src/db/client.js';
import type { ApiKeyScope } from '../../src/db/schema.js';
import {
  type ChildGateway,
  freePort,
  type GatewayDatabase,
  gatewayDatabase,
  postGraphQL,
  startChildGateway,
} from './server.js';

/** A redis-server process of this test (see the module comment). */
export class TestRedis {
  private constructor(
    readonly port: number,
    private process: ChildProcess,
  ) {}

  /** Starts redis-server (no persistence) on `port` (default: a free one); resolves when it accepts connections. */
  static async start(port?: number): Promise<TestRedis> {
    const chosen = port ?? (await freePort());
    return new TestRedis(chosen, await spawnRedis(chosen));
  }

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Stalls the server: connections stay open and nothing is answered. */
  pause(): void {
    this.process.kill('SIGSTOP');
  }

  /** Lets a paused server answer again (what it received meanwhile is answered first). */
  resume(): void {
    this.process.kill('SIGCONT');
  }

  /** Kills the server (SIGKILL; resumed first if paused): connections are refused until `restart`. */
  async kill(): Promise<void> {
    const server = this.process;
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGKILL');
    await exited;
  }

  /** Starts a new, empty server on the same port (after `kill`). */
  async restart(): Promise<void> {
    this.process = await spawnRedis(this.port);
  }

  /** Whatever a (failed) test left: a paused server resumes, a killed one starts again. */
  async revive(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) await this.restart();
    else this.resume();
  }
}

async function spawnRedis(port: number): Promise<ChildProcess> {
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    server.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  return server;
}

/** A logger that keeps its lines and can wait for one. */
export function recordingLogger() {
  const lines: { level: 'info' | 'warn'; message: string }[] = [];
  const waiters = new Set<() => void>();
  const add = (level: 'info' | 'warn') => (_: object, message: string) => {
    lines.push({ level, message });
    for (const waiter of [...waiters]) waiter();
  };
  return {
    lines,
    info: add('info'),
    warn: add('warn'),
    /** Resolves when a line matching `match` is logged (or was). */
    waitFor(match: RegExp): Promise<void> {
      return new Promise((resolve) => {
        const check = () => {
          if (!lines.some((line) => match.test(line.message))) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/**
 * The configuration that points gateways at the Redis at `url` (default: the shared one on
 * 6379) under a key prefix of their own, since other test runs use that Redis too. Gateways
 * given the same result share their counters and slots.
 */
export function redisVars(url = 'redis://127.0.0.1:6379'): Record<string, string> {
  return {
    CHIPGATE_REDIS_URL: url,
    CHIPGATE_REDIS_PREFIX: `chipgate-test-${randomBytes(6).toString('hex')}:`,
  };
}

/** An API key that every gateway of a pair knows (same secret, so the same id in each database). */
export interface SharedKey {
  generated: GeneratedKey;
  scopes: ApiKeyScope[];
  /** The key's own requests per minute (default: the configured default). */
  rateLimit?: number;
  /** The key's own concurrent subscriptions (default: the configured default). */
  maxSubscriptions?: number;
  /** `{ authorization: 'Bearer <key>' }` */
  headers: { authorization: string };
}

/** A new key for `sharedGateways`. */
export function sharedKey(
  scopes: ApiKeyScope[],
  rateLimit?: number,
  maxSubscriptions?: number,
): SharedKey {
  const generated = generateKey();
  return {
    generated,
    scopes,
    ...(rateLimit === undefined ? {} : { rateLimit }),
    ...(maxSubscriptions === undefined ? {} : { maxSubscriptions }),
    headers: { authorization: `Bearer ${generated.key}` },
  };
}

async function addKeys(env: Record<string, string>, keys: SharedKey[]): Promise<void> {
  const handle = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    pgliteDir: env.CHIPGATE_PGLITE_DIR,
    poolMax: 2,
  });
  try {
    for (const [i, { generated, scopes, rateLimit, maxSubscriptions }] of keys.entries()) {
      const { prefix, keyHash } = generated;
      await insertApiKey(handle.db, {
        name: `shared ${i}`,
        prefix,
        keyHash,
        scopes,
        rateLimit,
        maxSubscriptions,
      });
    }
  } finally {
    await handle.close();
  }
}

/**
 * Two child gateways (on the run's backend, with the same `keys`) sharing the Redis at `url`
 * under a key prefix of their own (other test runs use the shared Redis too), plus `vars`.
 * Their databases are added to `databases` for the caller to clean up.
 */
export async function sharedGateways(
  url: string,
  keys: SharedKey[],
  databases: GatewayDatabase[],
  vars: Record<string, string> = {},
): Promise<[ChildGateway, ChildGateway]> {
  const first = await gatewayDatabase();
  databases.push(first);
  // PostgreSQL: both gateways share one database. PGlite: one directory each, same keys.
  const second = first.env.DATABASE_URL ? first : await gatewayDatabase();
  if (second !== first) databases.push(second);
  for (const database of new Set([first, second])) await addKeys(database.env, keys);
  const shared = { ...redisVars(url), ...vars };
  return Promise.all([
    startChildGateway({ ...first.env, ...shared }),
    startChildGateway({ ...second.env, ...shared }),
  ]);
}

/**
 * Sends `query` through each gateway in turn with `key`, else (when the minute turned during
 * the sequence, so counts started over) again with `fallback`; returns [status,
 * RateLimit-Remaining] per request.
 */
export async function limitSequence(
  gateways: ChildGateway[],
  query: string,
  key: SharedKey,
  fallback: SharedKey,
): Promise<[number, string | null][]> {
  let seen: { status: number; remaining: string | null; reset: number }[] = [];
  for (const k of [key, fallback]) {
    seen = [];
    for (const gateway of gateways) {
      const { status, headers } = await postGraphQL(gateway.url, query, undefined, k.headers);
      seen.push({
        status,
        remaining: headers.get('ratelimit-remaining'),
        reset: Number(headers.get('ratelimit-reset')),
      });
    }
    if (!seen.some((s, i) => i > 0 && s.reset > (seen[i - 1]?.reset ?? 0))) break;
  }
  return seen.map((s) => [s.status, s.remaining]);
}
