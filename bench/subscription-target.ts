/**
 * The gateway process of the subscription benchmark: `startGateway` as `src/server.ts` runs
 * it (PostgreSQL from `DATABASE_URL`), forked with `--expose-gc` and an IPC channel on which it
 * answers `{ type: 'stats' }` with its memory after a full garbage collection, its hub's
 * figures, its CPU time so far and the SQL statements it sent. Started by `subscriptions.ts`;
 * not meant to be run by hand.
 *
 * Settings from the parent: `BENCH_TARGET_PORT` (listen there, so a restarted gateway is found
 * at the same address; default any free port) and `BENCH_COUNT_STATEMENTS=1` (connect to the
 * database through `pg-frontend.ts`'s counting proxy, in this process; off by default, since
 * the extra hop adds latency).
 */
import { readFileSync } from 'node:fs';
import { loadEnv } from '../src/env.js';
import { startGateway } from '../src/server.js';
import { type CountingProxy, startCountingProxy, statementsIn } from './pg-frontend.js';

/** What the target reports. */
export interface SubscriptionTargetStats {
  /** V8 heap in use after a full GC (none when asked with `gc: false`), in bytes. */
  heapUsedBytes: number;
  /** Resident set size, in bytes. */
  rssBytes: number;
  /** Subscribers registered with the hub. */
  subscribers: number;
  /** Open WebSocket connections. */
  webSocketConnections: number;
  /** `process.cpuUsage()` user + system since the process started, in ms (read before any GC). */
  cpuMs: number;
  /** SQL statements sent so far (Execute + simple Query messages); undefined: not counted. */
  statements: number | undefined;
  /** The soft and hard limits on open files (`/proc/self/limits`); undefined: unreadable. */
  openFiles: { soft: number; hard: number } | undefined;
}

/** The open-files limits of this process, from /proc/self/limits. */
function openFileLimits(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line?.match(/\d+/g) ?? []).map(Number);
    return soft && hard ? { soft, hard } : undefined;
  } catch {
    return undefined;
  }
}

const env = {
  ...loadEnv(),
  CHIPGATE_HOST: '127.0.0.1',
  CHIPGATE_PORT: Number(process.env.BENCH_TARGET_PORT ?? 0),
};
let proxy: CountingProxy | undefined;
if (process.env.BENCH_COUNT_STATEMENTS === '1' && env.DATABASE_URL) {
  const url = new URL(env.DATABASE_URL);
  proxy = await startCountingProxy(url.hostname, Number(url.port || 5432));
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  env.DATABASE_URL = url.toString();
}
const gateway = await startGateway(env);
const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', (message: { type: string; gc?: boolean }) => {
  if (message.type === 'stats') {
    const cpu = process.cpuUsage();
    if (message.gc !== false) {
      // Twice: the first pass can leave garbage that only the second frees (weak references).
      gc?.();
      gc?.();
    }
    const memory = process.memoryUsage();
    const stats: SubscriptionTargetStats = {
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
      subscribers: gateway.events.stats().subscribers,
      webSocketConnections: gateway.webSocketConnections(),
      cpuMs: (cpu.user + cpu.system) / 1000,
      statements: proxy ? statementsIn(proxy.counts) : undefined,
      openFiles: openFileLimits(),
    };
    process.send?.({ type: 'stats', stats });
  } else if (message.type === 'shutdown') {
    gateway.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  }
});
process.send?.({ type: 'ready', url: gateway.url });
