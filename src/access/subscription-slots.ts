/**
 * Concurrent subscriptions per caller, over SSE and WebSocket together.
 *
 * With Redis, every open subscription holds a lease in a sorted set per caller (member: the
 * lease id, score: when the lease expires), so all instances share one count; an instance refreshes its leases every `LEASE_MS / 3`, so the slots of an instance
 * that died free themselves within `LEASE_MS`. Without Redis, or while it is unavailable (see
 * `SharedRedis`), slots are counted in this instance's memory.
 *
 * A lease id is the time it was taken, this instance's id and a sequence number, as text that
 * sorts in that order, so every instance agrees which of a caller's slots are the oldest (when
 * its limit is lowered, the newest ones over it end; see `oldest`).
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
  /** Sorts (as text) by when the slot was taken, across instances. */
  readonly id: string;
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
  /** Lease ids held in this instance's memory, per caller. */
  private readonly memory = new Map<string, Set<string>>();
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

  private nextId(): string {
    const at = String(this.options.clock()).padStart(15, '0');
    return `${at}:${this.instance}:${String(++this.sequence).padStart(12, '0')}`;
  }

  /** Takes a slot when fewer than `max` are held; undefined when all are taken. */
  async acquire(subject: string, max: number): Promise<SlotLease | undefined> {
    const { redis } = this.options;
    if (redis) {
      const lease = { key: this.key(subject), member: this.nextId() };
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
    const held = this.memory.get(subject) ?? new Set<string>();
    if (held.size >= max) return undefined;
    const id = this.nextId();
    held.add(id);
    this.memory.set(subject, held);
    return {
      id,
      release: () => {
        held.delete(id);
        if (held.size === 0 && this.memory.get(subject) === held) this.memory.delete(subject);
      },
    };
  }

  private redisLease(lease: RedisLease): SlotLease {
    let released = false;
    return {
      id: lease.member,
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
    const local = this.memory.get(subject)?.size ?? 0;
    if (!redis) return local;
    const shared = await redis.run(
      (client) => client.zcount(this.key(subject), this.options.clock(), '+inf'),
      () => 0,
    );
    return shared + local;
  }

  /**
   * The ids of the `max` oldest slots the caller holds: on every instance while Redis is
   * available, else among this instance's.
   */
  async oldest(subject: string, max: number): Promise<Set<string>> {
    const key = this.key(subject);
    const ids = new Set(this.memory.get(subject));
    for (const lease of this.leases) if (lease.key === key) ids.add(lease.member);
    const shared = await this.options.redis?.run(
      (client) => client.zrangebyscore(key, this.options.clock(), '+inf'),
      () => [],
    );
    for (const id of shared ?? []) ids.add(id);
    return new Set([...ids].sort().slice(0, max));
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
