/**
 * Per-minute counters of requests and query cost, per caller (an API key, or an anonymous
 * client address). The counting is rate-limiter-flexible's: in Redis when configured (atomic
 * INCRBY with expiry, shared by every instance), in process memory otherwise, and in memory
 * while Redis is unavailable (each instance then counts on its own; see `SharedRedis`).
 *
 * Windows are fixed minutes of the injected clock (`floor(now / 60 s)`), part of the counter's
 * key: every instance agrees on when a window starts and resets, `resetAt` is exact, and tests
 * move to the next window by moving their clock instead of waiting a minute.
 */
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { SharedRedis } from '../redis.js';

/** Length of a limit window: one minute. */
export const WINDOW_MS = 60_000;

/** What a per-minute counter counts. */
export type CounterKind = 'REQUESTS' | 'COST';

/** The outcome of adding to a counter. */
export interface CounterResult {
  /** True when the caller stayed within `limit` (the points were counted). */
  allowed: boolean;
  limit: number;
  /** Points used in this window, including these when allowed. */
  used: number;
  /** `limit - used`, at least 0. */
  remaining: number;
  /** Start of the window (ms since the epoch). */
  windowStart: number;
  /** When the window ends and the budget is whole again (ms since the epoch). */
  resetAt: number;
}

/** What the counters need. */
export interface CountersOptions {
  /** Shared counters live here (memory while it is unavailable); without it each instance counts in memory. */
  redis?: SharedRedis | undefined;
  /** Prefix of every Redis key (e.g. `chipgate:`), so deployments and test runs never collide. */
  prefix: string;
  /** Milliseconds since the epoch (injected so tests control the windows). */
  clock: () => number;
}

// The window is in the key; the stored counter only has to outlive its window.
const STORE_SECONDS = 2 * (WINDOW_MS / 1000);
// Limits differ per caller, so the library never refuses by itself: we compare with the limit.
const UNBOUNDED = 2 ** 52;

/** Per-minute request and cost counters (see the module comment). */
export class Counters {
  private readonly memory: RateLimiterMemory;
  private readonly shared: { redis: SharedRedis; limiter: RateLimiterRedis } | undefined;
  private readonly clock: () => number;

  constructor(options: CountersOptions) {
    this.clock = options.clock;
    const common = {
      points: UNBOUNDED,
      duration: STORE_SECONDS,
      keyPrefix: `${options.prefix}limit`,
    };
    this.memory = new RateLimiterMemory(common);
    this.shared = options.redis && {
      redis: options.redis,
      limiter: new RateLimiterRedis({
        ...common,
        storeClient: options.redis.client,
        // Not connected: fail at once (the breaker opens and memory counts).
        rejectIfRedisNotReady: true,
      }),
    };
  }

  /** The window the clock is in now: its start and end (ms since the epoch). */
  window(): { start: number; end: number } {
    const start = Math.floor(this.clock() / WINDOW_MS) * WINDOW_MS;
    return { start, end: start + WINDOW_MS };
  }

  private key(kind: CounterKind, subject: string, windowStart: number): string {
    return `${kind}:${subject}:${windowStart / WINDOW_MS}`;
  }

  /**
   * Adds `points` to the caller's counter of this window unless that takes it over `limit`;
   * a refused addition is taken back, so only what ran is counted. (Requests are counted
   * even when refused: see `countRequest`.)
   */
  async add(
    kind: CounterKind,
    subject: string,
    points: number,
    limit: number,
  ): Promise<CounterResult> {
    const { start, end } = this.window();
    const key = this.key(kind, subject, start);
    const { used, limiter } = await this.consume(key, points);
    const allowed = used <= limit;
    if (!allowed && points > 0) {
      // Taken back where it was counted; should Redis have gone away meanwhile, the refused
      // points stay counted there until the window ends.
      if (limiter === this.memory) await limiter.reward(key, points);
      else
        await this.shared?.redis.run(
          () => limiter.reward(key, points),
          () => undefined,
        );
    }
    const counted = allowed ? used : used - points;
    return {
      allowed,
      limit,
      used: counted,
      remaining: Math.max(0, limit - counted),
      windowStart: start,
      resetAt: end,
    };
  }

  /**
   * Counts one request, refused or not (a client that keeps sending while refused stays
   * refused until the window ends), and says whether it is within `limit`.
   */
  async countRequest(subject: string, limit: number): Promise<CounterResult> {
    const { start, end } = this.window();
    const { used } = await this.consume(this.key('REQUESTS', subject, start), 1);
    return {
      allowed: used <= limit,
      limit,
      used,
      remaining: Math.max(0, limit - used),
      windowStart: start,
      resetAt: end,
    };
  }

  /** What the caller used in this window, without counting anything. */
  async peek(kind: CounterKind, subject: string): Promise<{ used: number; windowStart: number }> {
    const { start } = this.window();
    const key = this.key(kind, subject, start);
    const res = await this.onShared((limiter) => limiter.get(key));
    return { used: res?.consumedPoints ?? 0, windowStart: start };
  }

  /** Adds `points` to `key`: its count after that, and the limiter that counted it. */
  private consume(
    key: string,
    points: number,
  ): Promise<{ used: number; limiter: RateLimiterAbstract }> {
    return this.onShared(async (limiter) => {
      try {
        return { used: (await limiter.consume(key, points)).consumedPoints, limiter };
      } catch (error) {
        // Over the (unbounded) points: cannot happen, but the library rejects with a result.
        if (error instanceof RateLimiterRes) return { used: error.consumedPoints, limiter };
        throw error;
      }
    });
  }

  /** Runs `operation` on the Redis limiter, or on the memory one without Redis or while it is unavailable. */
  private onShared<T>(operation: (limiter: RateLimiterAbstract) => Promise<T>): Promise<T> {
    const { shared } = this;
    if (!shared) return operation(this.memory);
    return shared.redis.run(
      () => operation(shared.limiter),
      () => operation(this.memory),
    );
  }
}
