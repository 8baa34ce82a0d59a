/**
 * The Redis connection that rate-limit counters, subscription slots and the APQ store share.
 *
 * Availability fails open: commands fail at once while the connection is down (no offline
 * queue) and callers fall back to per-instance memory; ioredis keeps reconnecting, and the
 * shared state is used again as soon as it is back. Both transitions are logged once.
 */
import type { Redis } from 'ioredis';

/** The logger shape used here (pino satisfies it). */
export interface RedisLogger {
  info: (object: object, message: string) => void;
  warn: (object: object, message: string) => void;
}

/** An open (or reconnecting) Redis connection. */
export interface RedisConnection {
  client: Redis;
  /** True while commands can be sent. */
  readonly ready: boolean;
  /** Resolves true once connected, or false after `timeoutMs` (then it keeps trying). */
  connected(timeoutMs: number): Promise<boolean>;
  /** Closes the connection (no reconnects after this). */
  close(): Promise<void>;
}

/**
 * Connects to `url` (redis:// or rediss://). Never rejects for an unreachable server: that is
 * logged and retried in the background (every 0.2 s at first, at most every 2 s). ioredis is
 * loaded only here, so a gateway without Redis does not load it.
 */
export async function connectRedis(url: string, logger: RedisLogger): Promise<RedisConnection> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A stalled server must not stall requests: such a command fails and memory takes over.
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let down = false;
  let closing = false;
  client.on('error', (error: Error) => {
    if (down || closing) return;
    down = true;
    logger.warn(
      { err: { message: error.message } },
      'Redis unreachable: rate limits are counted per instance until it is back',
    );
  });
  client.on('close', () => {
    if (down || closing) return;
    down = true;
    logger.warn({}, 'Redis connection lost: rate limits are counted per instance until it is back');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info({}, 'Redis is back: rate limits are shared again');
  });
  return {
    client,
    get ready() {
      return client.status === 'ready';
    },
    connected(timeoutMs) {
      if (client.status === 'ready') return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (value: boolean) => {
          clearTimeout(timer);
          client.off('ready', onReady);
          resolve(value);
        };
        const onReady = () => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        client.on('ready', onReady);
      });
    },
    async close() {
      closing = true;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
