/**
 * Per-minute counters of requests and query cost, per caller (an API key, or an anonymous
 * client address). The counting is rate-limiter-flexible's: in Redis when configured (atomic
 * INCRBY with expiry, shared by every instance), in process memory otherwise, and in memory as
 * its insurance while Redis is unreachable (each instance then counts on its own).
 *
 * Windows are fixed minutes of the injected clock (`floor(now / 60 s)`), part of the counter's
 * key: every instance agrees on when a window starts and resets, `resetAt` is exact, and tests
 * move to the next window by moving their clock instead of waiting a minute.
 */
import type { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';

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
  /** Shared counters live here; without it each instance counts in memory. */
  redis?: Redis | undefined;
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
  private readonly limiter: RateLimiterAbstract;
  private readonly clock: () => number;

  constructor(options: CountersOptions) {
    this.clock = options.clock;
    const common = {
      points: UNBOUNDED,
      duration: STORE_SECONDS,
      keyPrefix: `${options.prefix}limit`,
    };
    const memory = new RateLimiterMemory(common);
    this.limiter = options.redis
      ? new RateLimiterRedis({
          ...common,
          storeClient: options.redis,
          // Fail open on availability: while Redis is not connected, count in memory at once.
          rejectIfRedisNotReady: true,
          insuranceLimiter: memory,
        })
      : memory;
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
    const used = await this.consume(key, points);
    const allowed = used <= limit;
    if (!allowed && points > 0) await this.limiter.reward(key, points);
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
    const used = await this.consume(this.key('REQUESTS', subject, start), 1);
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
    const res = await this.limiter.get(this.key(kind, subject, start));
    return { used: res?.consumedPoints ?? 0, windowStart: start };
  }

  private async consume(key: string, points: number): Promise<number> {
    try {
      return (await this.limiter.consume(key, points)).consumedPoints;
    } catch (error) {
      // Over the (unbounded) points: cannot happen, but the library rejects with a result.
      if (error instanceof RateLimiterRes) return error.consumedPoints;
      throw error;
    }
  }
}
