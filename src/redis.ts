/**
 * The one Redis connection of a gateway instance, shared by everything that keeps state in
 * Redis: rate-limit counters, subscription slots, the APQ store and the response cache.
 *
 * Redis makes state shared between instances; it is never something a request waits for:
 * - Every operation has a deadline (`timeoutMs`, `CHIPGATE_REDIS_TIMEOUT_MS`), and ioredis keeps
 *   no offline queue, so while the connection is down a command fails at once.
 * - A circuit breaker (cockatiel) opens on the first operation that fails or passes its
 *   deadline, or when the connection drops. While it is open no command is sent and every user
 *   takes its fallback at once: limits and subscription slots are counted in this instance's
 *   memory, APQ entries are kept in memory, the response cache is skipped.
 * - While it is open, a probe runs about once a second (`PROBE_AFTER_MS`): PING, then the tasks
 *   registered with `whenBack` (the response cache evicts what it could not evict meanwhile,
 *   subscription slots write their leases back).
 *   When the probe succeeds the breaker closes and shared state is used again. Requests never
 *   serve as probes, so none waits on a Redis that is still away.
 * - Each transition is logged once, whatever the number of requests that met it.
 */
import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import type { Redis } from 'ioredis';
import { type BreakerState, breakerStateName } from './breaker.js';
import { settleWithin } from './deadline.js';
import type { LogCalls } from './log-calls.js';

/** The logger calls made here (pino satisfies it). */
export type RedisLogger = Pick<LogCalls, 'info' | 'warn'>;

/** How to reach Redis and how long to wait for it. */
export interface RedisOptions {
  /** `redis://` or `rediss://` URL (never logged). */
  url: string;
  /** Deadline of one operation, in ms; past it the operation fails and the breaker opens. */
  timeoutMs: number;
  logger: RedisLogger;
  /** Told of every breaker state change (metrics). */
  onStateChange?: (state: BreakerState) => void;
}

/** How long the breaker stays open before a probe may close it. */
export const PROBE_AFTER_MS = 1_000;
/** How long start-up waits for the connection before it starts without Redis (then probes). */
export const STARTUP_WAIT_MS = 1_000;
// Reconnection attempts back off to one a second at most, and never stop.
const RECONNECT_MAX_MS = 1_000;
// The tasks of a probe may touch many keys (the response cache's full eviction).
const TASKS_DEADLINE_FACTOR = 10;
// ioredis' own timeout only frees commands a stalled server never answers (`withinDeadline`
// decides what is late); it must not fire before a busy process has read a reply that came in time.
const CLIENT_TIMEOUT_MS = 10_000;

const DOWN_MESSAGE =
  'Redis unreachable: rate limits are counted per instance, subscription slots and APQ entries are kept in memory, the response cache is skipped, until it answers again';
const BACK_MESSAGE =
  'Redis is back: rate limits are shared again, and so are subscription slots, APQ entries and the response cache';

/** A reply of Redis itself (e.g. a script error or OOM): the server is there, the command failed. */
const isReplyError = (error: unknown) => error instanceof Error && error.name === 'ReplyError';

/** The shared Redis connection with its deadline and breaker (see the module comment). */
export class SharedRedis {
  private readonly breaker;
  private readonly tasks: ((client: Redis) => Promise<void>)[] = [];
  private prober: NodeJS.Timeout | undefined;
  private probing = false;
  private down = false;
  private closing = false;

  private constructor(
    /** The ioredis client; use it inside `run` only, so every command has the deadline and breaker. */
    readonly client: Redis,
    private readonly options: RedisOptions,
  ) {
    // Any failure but a reply of Redis itself says the server is away or too slow.
    this.breaker = circuitBreaker(
      handleWhen((error) => !isReplyError(error)),
      { halfOpenAfter: PROBE_AFTER_MS, breaker: new ConsecutiveBreaker(1) },
    );
    this.breaker.onBreak((reason) => {
      if (this.down || this.closing) return;
      this.down = true;
      const error = 'error' in reason ? reason.error : undefined;
      options.logger.warn({ err: { message: error?.message ?? 'unavailable' } }, DOWN_MESSAGE);
      this.prober = setInterval(() => void this.probe(), PROBE_AFTER_MS / 4);
      this.prober.unref();
    });
    this.breaker.onReset(() => {
      clearInterval(this.prober);
      if (!this.down || this.closing) return;
      this.down = false;
      options.logger.info({}, BACK_MESSAGE);
    });
    this.breaker.onStateChange((state) => options.onStateChange?.(breakerStateName(state)));
    options.onStateChange?.('closed');
    // ioredis reports every failed reconnection attempt; the breaker's transitions say enough.
    client.on('error', () => {});
    client.on('close', () => this.failed(new Error('connection to Redis lost')));
  }

  /**
   * Connects to `options.url`. Waits at most `STARTUP_WAIT_MS` for the connection: a gateway
   * whose Redis is away starts without it and uses it once a probe succeeds. Never rejects for
   * an unreachable server. ioredis is loaded only here, so a gateway without Redis does not
   * load it.
   */
  static async connect(options: RedisOptions): Promise<SharedRedis> {
    const { Redis } = await import('ioredis');
    const client = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: Math.max(CLIENT_TIMEOUT_MS, 4 * options.timeoutMs),
      connectTimeout: Math.max(options.timeoutMs, 2_000),
      retryStrategy: (attempt) => Math.min(attempt * 100, RECONNECT_MAX_MS),
    });
    const shared = new SharedRedis(client, options);
    await shared.breaker.execute(() => readyWithin(client, STARTUP_WAIT_MS)).catch(() => {});
    return shared;
  }

  /** True while shared state is used (the breaker is closed). */
  get available(): boolean {
    return this.breaker.state === CircuitState.Closed;
  }

  /** The breaker's state: `closed` (Redis in use), `open` or `half-open` (a probe is running). */
  get state(): BreakerState {
    return breakerStateName(this.breaker.state);
  }

  /**
   * Runs `operation` on Redis within the deadline, or `fallback` instead: at once while the
   * breaker is open, or when the operation fails (a failure other than a reply of Redis itself
   * opens the breaker for every user). A reply error (e.g. OOM) is logged, then falls back too.
   */
  async run<T>(
    operation: (client: Redis) => Promise<T>,
    fallback: () => T | Promise<T>,
  ): Promise<T> {
    if (this.breaker.state !== CircuitState.Closed) return fallback();
    try {
      return await this.breaker.execute(() =>
        withinDeadline(operation(this.client), this.options.timeoutMs),
      );
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      if (isReplyError(error)) {
        this.options.logger.warn({ err: { message: error.message } }, 'Redis refused a command');
      }
      return fallback();
    }
  }

  /**
   * Registers a task that must succeed before shared state is used again after an outage: it
   * runs in each probe, after PING, within ten deadlines; when it fails, the breaker stays open.
   */
  whenBack(task: (client: Redis) => Promise<void>): void {
    this.tasks.push(task);
  }

  /** Stops probing and closes the connection (no reconnects after this). */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.prober);
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  /** A lost connection counts as a failed operation (nothing waits for the next request to find out). */
  private failed(error: Error): void {
    if (this.closing || this.breaker.state !== CircuitState.Closed) return;
    this.breaker.execute(() => Promise.reject(error)).catch(() => {});
  }

  /** One probe when it is time (cockatiel refuses before `PROBE_AFTER_MS` has passed). */
  private async probe(): Promise<void> {
    if (this.probing || this.closing) return;
    this.probing = true;
    try {
      await this.breaker.execute(async () => {
        const { timeoutMs } = this.options;
        await withinDeadline(this.client.ping(), timeoutMs);
        for (const task of this.tasks) {
          await withinDeadline(task(this.client), timeoutMs * TASKS_DEADLINE_FACTOR);
        }
      });
    } catch {
      // Still away (or not time yet): the next tick tries again.
    } finally {
      this.probing = false;
    }
  }
}

/** An operation of Redis that did not finish within its deadline. */
export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/**
 * `operation`, or a `RedisTimeoutError` once `ms` have passed. When the deadline's timer fires,
 * replies that already arrived are read first (the rejection waits for the event loop's poll
 * phase): a process that was busy or descheduled for longer than the deadline did not wait for
 * Redis, and must not take Redis for gone.
 */
export function withinDeadline<T>(operation: Promise<T>, ms: number): Promise<T> {
  return settleWithin(operation, ms, () => new RedisTimeoutError(ms));
}

/** Resolves when `client` is connected, rejects on its first error or after `ms`. */
function readyWithin(client: Redis, ms: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', done);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(() => done(new Error(`Redis not connected within ${ms} ms`)), ms);
    client.on('ready', onReady);
    client.on('error', done);
  });
}
