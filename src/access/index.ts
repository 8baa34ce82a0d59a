/**
 * Partner access: who a request counts against, the limits that apply to it, and the shared
 * state behind them (per-minute counters, subscription slots, usage, trusted documents, the
 * APQ store). One `Access` per gateway instance; `createApp` wires it into yoga with
 * `usePartnerAccess` (plugin.ts).
 *
 * - API keys: requests per minute, query cost per minute, concurrent subscriptions and
 *   `persistedOnly`, each from the key's row or else the configured defaults for keys.
 * - Anonymous callers: the configured anonymous limits, per client address.
 */
import { LRUCache } from 'lru-cache';
import type { Viewer } from '../auth.js';
import type { Database } from '../db/client.js';
import { RateLimitedError, type RateLimitInfo, type RateLimitReason } from '../errors.js';
import type { SharedRedis } from '../redis.js';
import { type CounterResult, Counters } from './counters.js';
import { TrustedDocuments } from './documents.js';
import { KeySessions } from './sessions.js';
import { SubscriptionSlots } from './subscription-slots.js';
import { type UsageLogger, UsageRecorder } from './usage.js';

/** The limits of one caller. */
export interface Limits {
  /** Requests per minute (every HTTP request and WebSocket operation counts one). */
  requestsPerMinute: number;
  /** Query cost per minute: the sum of the operations' costs, as the complexity limits count. */
  costPerMinute: number;
  /** Subscriptions open at once, over SSE and WebSocket together. */
  maxSubscriptions: number;
}

/** A caller's limits, with whether it may run registered documents only. */
export interface EffectiveLimits extends Limits {
  persistedOnly: boolean;
}

/** Partner access settings (see `accessConfigOf` in env.ts and the README). */
export interface AccessConfig {
  /** Limits of a key that sets none of its own. */
  keyDefaults: Limits;
  /** Limits of anonymous callers, per client address. */
  anonymous: Limits;
  /** How many proxies in front of the gateway append to `X-Forwarded-For` (0: ignore it). */
  trustProxy: number;
  /** `on`: everyone may introspect; `keys`: callers with a key; `off`: nobody. */
  introspection: 'on' | 'keys' | 'off';
  /** The APQ store: entries kept and their lifetime. */
  apq: { max: number; ttlSeconds: number };
  /** Prefix of every Redis key. */
  redisPrefix: string;
}

/** Told about every refused request (for metrics). */
export type RefusedObserver = (event: { keyId: number | null; reason: RateLimitReason }) => void;

/** What `Access` is built from. */
export interface AccessOptions {
  db: Database;
  config: AccessConfig;
  /**
   * Shared state lives here when given (counters, subscription slots, APQ), in memory while it
   * is unavailable.
   */
  redis?: SharedRedis | undefined;
  /** Milliseconds since the epoch (default `Date.now`). */
  clock?: () => number;
  onRefused?: RefusedObserver | undefined;
  /** Where a failed usage flush is reported (it is retried with the next one). */
  logger?: UsageLogger;
}

/** The APQ store interface of yoga's APQ plugin. */
export interface ApqStore {
  get(hash: string): Promise<string | null | undefined> | string | null | undefined;
  set(hash: string, query: string): Promise<unknown> | unknown;
}

/** A caller's usage in the current window, as `Query.viewer` shows it. */
export interface Usage {
  windowStart: Date;
  requests: number;
  cost: number;
  activeSubscriptions: number;
}

/** Partner access state of one gateway instance (see the module comment). */
export class Access {
  readonly config: AccessConfig;
  readonly counters: Counters;
  readonly slots: SubscriptionSlots;
  readonly usage: UsageRecorder;
  readonly documents: TrustedDocuments;
  readonly apqStore: ApqStore;
  /** What API keys hold open on this instance, and what a change to a key does to it. */
  readonly sessions: KeySessions;
  readonly clock: () => number;
  private readonly onRefused: RefusedObserver | undefined;

  constructor(options: AccessOptions) {
    this.config = options.config;
    this.clock = options.clock ?? Date.now;
    this.onRefused = options.onRefused;
    const prefix = options.config.redisPrefix;
    this.counters = new Counters({ redis: options.redis, prefix, clock: this.clock });
    this.slots = new SubscriptionSlots({ redis: options.redis, prefix, clock: this.clock });
    this.usage = new UsageRecorder(options.db, this.clock, options.logger);
    this.documents = new TrustedDocuments(options.db);
    this.apqStore = apqStore(options.config, options.redis);
    this.sessions = new KeySessions(this, options.db, options.logger);
  }

  /** The limits that apply to `viewer`: the key's own, else the defaults. */
  limitsOf(viewer: Viewer): EffectiveLimits {
    if (viewer.kind === 'anonymous') return { ...this.config.anonymous, persistedOnly: false };
    const own = viewer.limits;
    const defaults = this.config.keyDefaults;
    return {
      requestsPerMinute: own.rateLimit ?? defaults.requestsPerMinute,
      costPerMinute: own.costLimit ?? defaults.costPerMinute,
      maxSubscriptions: own.maxSubscriptions ?? defaults.maxSubscriptions,
      persistedOnly: own.persistedOnly,
    };
  }

  /** Who the limits count against: `key:<id>`, or `ip:<client address>` for anonymous callers. */
  subjectOf(viewer: Viewer, address: string): string {
    return viewer.kind === 'apiKey' ? `key:${viewer.id}` : `ip:${address}`;
  }

  /** What `subject` used in the current window. */
  async usageOf(subject: string): Promise<Usage> {
    const [requests, cost, activeSubscriptions] = await Promise.all([
      this.counters.peek('REQUESTS', subject),
      this.counters.peek('COST', subject),
      this.slots.active(subject),
    ]);
    return {
      windowStart: new Date(requests.windowStart),
      requests: requests.used,
      cost: cost.used,
      activeSubscriptions,
    };
  }

  /** The `RATE_LIMITED` error for a refusal (and tells the observer). */
  refusal(
    viewer: Viewer,
    reason: RateLimitReason,
    numbers: Pick<CounterResult, 'limit' | 'remaining'> & { resetAt: number | null },
  ): RateLimitedError {
    this.onRefused?.({ keyId: viewer.kind === 'apiKey' ? viewer.id : null, reason });
    const info: RateLimitInfo = {
      limit: numbers.limit,
      remaining: numbers.remaining,
      resetAt: numbers.resetAt === null ? null : new Date(numbers.resetAt).toISOString(),
      reason,
    };
    const retryAfter =
      numbers.resetAt === null
        ? 1
        : Math.max(1, Math.ceil((numbers.resetAt - this.clock()) / 1000));
    const who = viewer.kind === 'apiKey' ? 'This API key' : 'Anonymous callers from this address';
    const message =
      reason === 'REQUESTS'
        ? `${who} may send ${numbers.limit} requests per minute; retry after ${retryAfter} s.`
        : reason === 'COST'
          ? `${who} may spend a query cost of ${numbers.limit} per minute and this operation would exceed it; retry after ${retryAfter} s, or ask for less (smaller pages).`
          : `${who} may hold ${numbers.limit} subscriptions at once; close one first.`;
    return new RateLimitedError(message, info, retryAfter);
  }

  /** Stops timers and stores the usage counted since the last flush. */
  async close(): Promise<void> {
    await this.slots.close();
    this.sessions.close();
    await this.usage.close();
  }
}

/** The APQ store: Redis when configured (memory while it is unavailable), else a bounded LRU. */
function apqStore(config: AccessConfig, redis: SharedRedis | undefined): ApqStore {
  const memory = new LRUCache<string, string>({
    max: config.apq.max,
    ttl: config.apq.ttlSeconds * 1000,
  });
  if (!redis) {
    return { get: (hash) => memory.get(hash), set: (hash, query) => memory.set(hash, query) };
  }
  const key = (hash: string) => `${config.redisPrefix}apq:${hash}`;
  return {
    async get(hash) {
      return (
        (await redis.run(
          (client) => client.get(key(hash)),
          () => null,
        )) ?? memory.get(hash)
      );
    },
    async set(hash, query) {
      memory.set(hash, query);
      await redis.run(
        (client) => client.set(key(hash), query, 'EX', config.apq.ttlSeconds),
        () => null,
      );
    },
  };
}
