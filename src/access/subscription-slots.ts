/**
 * Concurrent subscriptions per caller, over SSE and WebSocket together.
 *
 * With Redis, every open subscription holds a lease in a sorted set per caller (member: this
 * instance and a sequence number, score: when the lease expires), so all instances share one
 * count; an instance refreshes its leases every `LEASE_MS / 3`, so the slots of an instance
 * that died free themselves within `LEASE_MS`. Without Redis, or while it is unavailable (see
 * `SharedRedis`), slots are counted in this instance's memory.
 */
import { randomUUID } from 'node:crypto';
import type { SharedRedis } from '../redis.js';

/** How long a lease lives without a refresh. */
export const LEASE_MS = 60_000;

// Drop expired leases, refuse when full, else add the lease; answers the count or -1.
const ACQUIRE = `
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
redis.call('zadd', KEYS[1], ARGV[3], ARGV[4])
redis.call('pexpire', KEYS[1], ARGV[5])
return redis.call('zcard', KEYS[1])`;

/** A held slot; `release()` frees it (once; later calls do nothing). */
export interface SlotLease {
  release(): void;
}

/** What the slots need. */
export interface SlotsOptions {
  redis?: SharedRedis | undefined;
  prefix: string;
  clock: () => number;
}

interface RedisLease {
  key: string;
  member: string;
}

/** Concurrent subscription slots (see the module comment). */
export class SubscriptionSlots {
  private readonly memory = new Map<string, number>();
  private readonly leases = new Set<RedisLease>();
  private readonly instance = randomUUID();
  private sequence = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SlotsOptions) {
    if (options.redis) {
      this.timer = setInterval(() => void this.refresh(), LEASE_MS / 3);
      this.timer.unref();
    }
  }

  private key(subject: string): string {
    return `${this.options.prefix}subscriptions:${subject}`;
  }

  /** Takes a slot when fewer than `max` are held; undefined when all are taken. */
  async acquire(subject: string, max: number): Promise<SlotLease | undefined> {
    const { redis } = this.options;
    if (redis) {
      const lease = { key: this.key(subject), member: `${this.instance}:${++this.sequence}` };
      const now = this.options.clock();
      // Undefined: Redis is unavailable, memory counts (a lease it still stored expires by itself).
      const count = await redis.run(
        (client) =>
          client.eval(
            ACQUIRE,
            1,
            lease.key,
            now,
            max,
            now + LEASE_MS,
            lease.member,
            LEASE_MS,
          ) as Promise<number>,
        () => undefined,
      );
      if (count !== undefined) {
        if (count < 0) return undefined;
        this.leases.add(lease);
        return this.redisLease(lease);
      }
    }
    const held = this.memory.get(subject) ?? 0;
    if (held >= max) return undefined;
    this.memory.set(subject, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const now = (this.memory.get(subject) ?? 1) - 1;
        if (now > 0) this.memory.set(subject, now);
        else this.memory.delete(subject);
      },
    };
  }

  private redisLease(lease: RedisLease): SlotLease {
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.leases.delete(lease);
        // Unavailable Redis: the lease expires by itself within LEASE_MS.
        void this.options.redis?.run(
          (client) => client.zrem(lease.key, lease.member),
          () => 0,
        );
      },
    };
  }

  /** Slots the caller holds now (on every instance when Redis is reachable). */
  async active(subject: string): Promise<number> {
    const { redis } = this.options;
    const local = this.memory.get(subject) ?? 0;
    if (!redis) return local;
    const shared = await redis.run(
      (client) => client.zcount(this.key(subject), this.options.clock(), '+inf'),
      () => 0,
    );
    return shared + local;
  }

  /** Extends every lease this instance holds. */
  async refresh(): Promise<void> {
    const { redis } = this.options;
    if (!redis || this.leases.size === 0) return;
    const expires = this.options.clock() + LEASE_MS;
    await redis.run(
      (client) => {
        const pipeline = client.pipeline();
        for (const lease of this.leases) {
          pipeline.zadd(lease.key, 'XX', expires, lease.member);
          pipeline.pexpire(lease.key, LEASE_MS);
        }
        return pipeline.exec();
      },
      () => null,
    );
  }

  /** Stops refreshing (leases still held expire on their own). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
