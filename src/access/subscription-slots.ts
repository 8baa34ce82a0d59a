/**
 * Concurrent subscriptions per caller, over SSE and WebSocket together.
 *
 * With Redis, every open subscription holds a lease in a sorted set per caller (member: the
 * lease id, score: when the lease expires), so all instances share one count; an instance
 * refreshes its leases every `LEASE_MS / 3`, so the slots of an instance that died free
 * themselves within `LEASE_MS`. Without Redis, slots are counted in this instance's memory.
 *
 * A reconnect storm cannot wait that long: after an instance dies, its clients reconnect to
 * another one within seconds, and its leases would refuse them. So an instance that holds
 * slots also keeps a liveness key (`<prefix>instance:<id>`, expiring after `ALIVE_MS`,
 * written every `ALIVE_MS / 3` and with every lease it takes), and deletes it when it stops;
 * a caller's set that is full drops the leases of instances without one before it refuses
 * (`ACQUIRE`). The slots of an instance that was killed thus free within `ALIVE_MS`, of one
 * that stopped at once. (An instance cut off from Redis for longer than `ALIVE_MS` loses its
 * leases to the first full acquire elsewhere; it writes them again when Redis is back, as after
 * an outage, and the caller then takes no new slot until enough have ended.)
 *
 * While Redis is unavailable (see `SharedRedis`), a caller may hold at most its limit on each
 * instance: the slots this instance took before the outage count, with the ones it takes
 * meanwhile. When Redis is back, before shared state is used again, every slot this instance
 * holds is written as a lease (the ones taken meanwhile, and any that expired or were lost
 * with Redis' data) and the leases of slots released meanwhile are removed, so the count in
 * Redis is again what all instances hold: a caller over its limit then takes no new slot until
 * enough have ended.
 *
 * A lease id is the time it was taken, this instance's id and a sequence number, as text that
 * sorts in that order, so every instance agrees which of a caller's slots are the oldest (when
 * its limit is lowered, the newest ones over it end; see `oldest`).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SharedRedis } from '../redis.js';

/** How long a lease lives without a refresh. */
export const LEASE_MS = 60_000;

/** How long an instance's liveness key lives without a refresh (see the module comment). */
export const ALIVE_MS = 10_000;

// KEYS: the caller's set, this instance's liveness key. ARGV: now, max, lease expiry, lease id,
// LEASE_MS, liveness key prefix, ALIVE_MS. Marks this instance alive, drops expired leases;
// when full, drops the leases of instances not alive (a lease id is `<at>:<instance>:<n>`);
// refuses when still full, else adds the lease. Answers the count or -1. (The liveness keys of
// other instances are read by name: one Redis, not a cluster.)
const ACQUIRE = `
redis.call('set', KEYS[2], '1', 'PX', ARGV[7])
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
local max = tonumber(ARGV[2])
if redis.call('zcard', KEYS[1]) >= max then
  local alive = {}
  for _, member in ipairs(redis.call('zrange', KEYS[1], 0, -1)) do
    local instance = string.match(member, '^%d+:([^:]+):')
    if instance then
      if alive[instance] == nil then
        alive[instance] = redis.call('exists', ARGV[6] .. instance) == 1
      end
      if not alive[instance] then redis.call('zrem', KEYS[1], member) end
    end
  end
  if redis.call('zcard', KEYS[1]) >= max then return -1 end
end
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

/**
 * A slot this instance holds: `stored` once its lease is in Redis; `sent` when a command that
 * writes its lease was sent, answered or not (a stalled Redis runs it when it resumes).
 */
interface Slot {
  subject: string;
  key: string;
  member: string;
  stored: boolean;
  sent: boolean;
}

/** Concurrent subscription slots (see the module comment). */
export class SubscriptionSlots {
  /** The slots this instance holds, per caller. */
  private readonly held = new Map<string, Set<Slot>>();
  /** Slots no longer held whose lease may be in Redis: its removal waits until Redis is back. */
  private readonly released = new Set<Slot>();
  private readonly instance = randomUUID();
  private sequence = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  /** When the leases were last written (clock ms). */
  private storedAt = 0;

  constructor(private readonly options: SlotsOptions) {
    const { redis } = options;
    if (redis) {
      this.timer = setInterval(() => void this.refresh(), ALIVE_MS / 3);
      this.timer.unref();
      redis.whenBack((client) => this.store(client));
    }
  }

  private key(subject: string): string {
    return `${this.options.prefix}subscriptions:${subject}`;
  }

  /** The liveness keys' prefix; this instance's key is it plus the instance id. */
  private get alivePrefix(): string {
    return `${this.options.prefix}instance:`;
  }

  private get aliveKey(): string {
    return `${this.alivePrefix}${this.instance}`;
  }

  private nextId(): string {
    const at = String(this.options.clock()).padStart(15, '0');
    return `${at}:${this.instance}:${String(++this.sequence).padStart(12, '0')}`;
  }

  /** Takes a slot when fewer than `max` are held; undefined when all are taken. */
  async acquire(subject: string, max: number): Promise<SlotLease | undefined> {
    const { redis } = this.options;
    const member = this.nextId();
    const slot: Slot = { subject, key: this.key(subject), member, stored: false, sent: false };
    if (redis) {
      const now = this.options.clock();
      // Undefined: Redis is unavailable, this instance counts (a lease it still stored expires by itself).
      const count = await redis.run(
        (client) => {
          slot.sent = true;
          return client.eval(
            ACQUIRE,
            2,
            slot.key,
            this.aliveKey,
            now,
            max,
            now + LEASE_MS,
            slot.member,
            LEASE_MS,
            this.alivePrefix,
            ALIVE_MS,
          ) as Promise<number>;
        },
        () => undefined,
      );
      if (count !== undefined && count < 0) return undefined;
      slot.stored = count !== undefined;
    }
    const held = this.held.get(subject) ?? new Set<Slot>();
    if (!slot.stored && held.size >= max) {
      this.forget(slot);
      return undefined;
    }
    held.add(slot);
    this.held.set(subject, held);
    return this.lease(slot);
  }

  private lease(slot: Slot): SlotLease {
    let released = false;
    return {
      id: slot.member,
      release: () => {
        if (released) return;
        released = true;
        const held = this.held.get(slot.subject);
        held?.delete(slot);
        if (held?.size === 0) this.held.delete(slot.subject);
        this.forget(slot);
      },
    };
  }

  /** Removes the lease of a slot no longer held, if one may be in Redis. */
  private forget(slot: Slot): void {
    if (!slot.stored && !slot.sent) return;
    void this.options.redis?.run(
      (client) => client.zrem(slot.key, slot.member),
      () => {
        // Removed when Redis is back (or it expires by itself within LEASE_MS).
        this.released.add(slot);
        return 0;
      },
    );
  }

  /** Slots the caller holds now (on every instance when Redis is reachable). */
  async active(subject: string): Promise<number> {
    const { redis } = this.options;
    const held = [...(this.held.get(subject) ?? [])];
    const unstored = held.filter((slot) => !slot.stored).length;
    if (!redis) return held.length;
    const shared = await redis.run(
      (client) => client.zcount(this.key(subject), this.options.clock(), '+inf'),
      () => undefined,
    );
    return shared === undefined ? held.length : shared + unstored;
  }

  /**
   * The ids of the `max` oldest slots the caller holds: on every instance while Redis is
   * available, else among this instance's.
   */
  async oldest(subject: string, max: number): Promise<Set<string>> {
    const key = this.key(subject);
    const ids = new Set([...(this.held.get(subject) ?? [])].map((slot) => slot.member));
    const shared = await this.options.redis?.run(
      (client) => client.zrangebyscore(key, this.options.clock(), '+inf'),
      () => [],
    );
    for (const id of shared ?? []) ids.add(id);
    return new Set([...ids].sort().slice(0, max));
  }

  /**
   * Keeps this instance alive in Redis while it holds slots; every `LEASE_MS / 3` (and while
   * any is not stored yet) also extends every lease it holds and writes those not in Redis yet.
   */
  async refresh(): Promise<void> {
    const { redis } = this.options;
    if (!redis || this.held.size === 0) return;
    const due =
      this.options.clock() - this.storedAt >= LEASE_MS / 3 ||
      [...this.held.values()].some((held) => [...held].some((slot) => !slot.stored));
    await redis.run(
      (client) =>
        due ? this.store(client) : client.set(this.aliveKey, '1', 'PX', ALIVE_MS).then(() => {}),
      () => undefined,
    );
  }

  /**
   * Writes a lease for every slot this instance holds (new or extended, whether or not Redis
   * still had it) and removes the leases of slots released while Redis was unavailable.
   * Rejects when Redis refuses any of it; then nothing is marked stored.
   */
  private async store(client: Redis): Promise<void> {
    const slots = [...this.held.values()].flatMap((held) => [...held]);
    const released = [...this.released];
    if (slots.length === 0 && released.length === 0) return;
    const now = this.options.clock();
    const expires = now + LEASE_MS;
    const pipeline = client.pipeline();
    // Alive first: another instance's full acquire keeps the leases written below.
    if (slots.length > 0) pipeline.set(this.aliveKey, '1', 'PX', ALIVE_MS);
    for (const slot of released) pipeline.zrem(slot.key, slot.member);
    for (const slot of slots) {
      pipeline.zadd(slot.key, expires, slot.member);
      pipeline.pexpire(slot.key, LEASE_MS);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error)?.[0];
    if (!results || failed) throw failed ?? new Error('Redis did not run the lease pipeline');
    for (const slot of released) this.released.delete(slot);
    this.storedAt = now;
    // A slot released while the pipeline ran was written again: remove its lease.
    const gone = slots.filter((slot) => !this.held.get(slot.subject)?.has(slot));
    for (const slot of slots) slot.stored = true;
    if (gone.length > 0) {
      const removal = client.pipeline();
      for (const slot of gone) removal.zrem(slot.key, slot.member);
      await removal.exec();
    }
  }

  /**
   * Stops refreshing, and (Redis reachable) deletes this instance's liveness key, so the leases
   * it still holds no longer count once a caller's set is full (see the module comment); they
   * expire on their own otherwise. Never rejects.
   */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.options.redis?.run(
      (client) => client.del(this.aliveKey),
      () => 0,
    );
  }
}
