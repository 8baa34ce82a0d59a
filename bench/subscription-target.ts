/**
 * The gateway process of the subscription benchmark: `startGateway` as `src/server.ts` runs
 * it (PostgreSQL from `DATABASE_URL`), forked with `--expose-gc` and an IPC channel on which it
 * answers `{ type: 'stats' }` with its memory after a full garbage collection and its hub's
 * figures. Started by `subscriptions.ts`; not meant to be run by hand.
 */
import { loadEnv } from '../src/env.js';
import { startGateway } from '../src/server.js';

/** What the target reports. */
export interface SubscriptionTargetStats {
  /** V8 heap in use after a full GC, in bytes. */
  heapUsedBytes: number;
  /** Resident set size, in bytes. */
  rssBytes: number;
  /** Subscribers registered with the hub. */
  subscribers: number;
  /** Open WebSocket connections. */
  webSocketConnections: number;
}

const env = { ...loadEnv(), CHIPGATE_HOST: '127.0.0.1', CHIPGATE_PORT: 0 };
const gateway = await startGateway(env);
const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', (message: { type: string }) => {
  if (message.type === 'stats') {
    // Twice: the first pass can leave garbage that only the second frees (weak references).
    gc?.();
    gc?.();
    const memory = process.memoryUsage();
    const stats: SubscriptionTargetStats = {
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
      subscribers: gateway.events.stats().subscribers,
      webSocketConnections: gateway.webSocketConnections(),
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
