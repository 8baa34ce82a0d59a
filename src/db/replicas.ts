/**
 * Read replicas (`CHIPGATE_READ_REPLICA_URLS`): which server a read goes to.
 *
 * - **Rotation.** Every `checkEveryMs` one statement on the primary reads its WAL position
 *   (`pg_current_wal_insert_lsn()`) and one on each replica its replay position
 *   (`pg_last_wal_replay_lsn()`). A replica's lag is how long ago the primary first stood at a
 *   position the replica has not replayed yet (0 once it has replayed everything the primary
 *   had written at the last check), so an idle primary never makes a replica look late, and a
 *   replica whose replay stopped grows late by the clock. A replica later than `maxLagMs`, one
 *   that does not answer, or a server that is not a standby (promoted, or a misconfigured URL)
 *   is out of rotation until a check finds it caught up again.
 * - **Read-your-writes.** A mutation's consistency token is the primary's WAL position read after
 *   its commit (`position()`). A read that carries one goes to a replica in rotation that has
 *   replayed at least that position; while none has, the replicas are asked again every 10 ms
 *   (one statement per replica for all the reads waiting) for at most `waitMs`, then the read
 *   goes to the primary. Positions are compared as 64-bit numbers, as PostgreSQL compares
 *   `pg_lsn` values (never as text).
 * - A read without a token goes to the next replica in rotation (round robin), or to the
 *   primary when none is.
 * - **Floor** (`raiseFloor`, used with the response cache): after a change notification the
 *   primary's position is read, and every read then needs a replica that has replayed it, as if
 *   it carried that token; reads arriving while it is being read wait for it. A read stored in
 *   the cache after an eviction therefore never holds data older than the change that evicted.
 */
import { sql } from 'drizzle-orm';
import type { LogCalls } from '../log-calls.js';
import { type Database, type DatabaseHandle, openDatabase, queryRows } from './client.js';

/** A WAL position as PostgreSQL prints a `pg_lsn`: two hexadecimal halves, e.g. `16/B374D848`. */
const LSN_TEXT = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/**
 * Parses a WAL position (`pg_lsn` text such as `0/3000148`) into its 64-bit value; undefined when
 * the text is not one.
 */
export function parseLsn(text: string): bigint | undefined {
  if (!LSN_TEXT.test(text)) return undefined;
  const [high, low] = text.split('/') as [string, string];
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

/** Prints a 64-bit WAL position as PostgreSQL prints a `pg_lsn` (upper-case hexadecimal). */
export function formatLsn(value: bigint): string {
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Where a read was sent: the primary, or a replica by its name (`host:port/database`). */
export interface ReadRoute {
  db: Database;
  /** `primary`, or the replica's name. */
  target: string;
  /**
   * Why: `replica`, `no-replica` (none in rotation), `waited-out` (token not replayed in time),
   * `token-ahead` (the token is past the primary's own position: no replica can ever have
   * replayed it, so the read does not wait).
   */
  reason: 'replica' | 'no-replica' | 'waited-out' | 'token-ahead';
  /** How long the read waited for a replica to replay its token, in ms (0: no wait). */
  waitedMs: number;
}

/** One replica as the last check saw it (metrics, logs, tests). */
export interface ReplicaStatus {
  /** `host:port/database`, no credentials. */
  name: string;
  /** Whether the last check reached it and found a standby. */
  up: boolean;
  /** Whether reads go to it. */
  inRotation: boolean;
  /** Lag in ms as defined in the module comment; undefined before the first answer. */
  lagMs: number | undefined;
  /** Its replay position at the last check (`pg_lsn` text). */
  replayLsn: string | undefined;
}

/** Hears what the replica set does (the metrics module implements it). */
export interface ReplicaObserver {
  /** A read was routed to `target` (`primary` or a replica's name) after `waitedMs`. */
  routed(target: string, reason: ReadRoute['reason'], waitedMs: number): void;
  /** A statement was sent to the replica `name` (the replica pools' statement logger). */
  statement(name: string): void;
}

/** Settings of `ReadReplicas.open`. */
export interface ReadReplicasOptions {
  /** The primary (`DATABASE_URL`); must be a server, not PGlite. */
  primary: DatabaseHandle;
  /** The replicas' postgres:// URLs. */
  urls: readonly string[];
  /** `CHIPGATE_REPLICA_WAIT_MS`: longest wait for a replica to replay a token (0: never wait). */
  waitMs: number;
  /** `CHIPGATE_REPLICA_MAX_LAG_MS`: a replica later than this is out of rotation. */
  maxLagMs: number;
  /** Interval of the lag checks in ms (default: a quarter of `maxLagMs`, within 50..1000). */
  checkEveryMs?: number;
  /** Pool size of each replica (default 10). */
  poolMax?: number;
  /** Deadline of a statement waiting for a connection (`CHIPGATE_DATABASE_TIMEOUT_MS`). */
  timeoutMs?: number;
  /** Wall clock in ms (default `Date.now`), for lag. */
  now?: () => number;
  logger?: ReplicaLogger;
  observer?: ReplicaObserver;
}

/** The logger calls the replica set makes (pino satisfies it). */
export type ReplicaLogger = Pick<LogCalls, 'info' | 'warn'>;

/** Pause between two polls of the replicas while reads wait for a token. */
const POLL_MS = 10;

interface Replica {
  readonly name: string;
  readonly handle: DatabaseHandle;
  up: boolean;
  inRotation: boolean;
  lagMs: number | undefined;
  replay: bigint | undefined;
  /** The replay-position read in flight, shared by every caller. */
  reading: Promise<void> | undefined;
}

const silent: ReplicaLogger = { info() {}, warn() {} };

/** Rejects after `ms` unless `promise` settles first. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** See the module comment. Create with `ReadReplicas.open`; `close()` ends its pools. */
export class ReadReplicas {
  private readonly replicas: Replica[];
  private readonly now: () => number;
  private readonly logger: ReplicaLogger;
  private readonly checkEveryMs: number;
  /** Primary WAL positions seen by the checks, ascending, each with when it was first seen. */
  private samples: { at: number; lsn: bigint }[] = [];
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private closed = false;
  /** The position every read needs (see `raiseFloor`), and its read in flight. */
  private floor: bigint | undefined;
  private floorReading: Promise<void> | undefined;
  private floorAgain = false;

  private constructor(
    private readonly primary: DatabaseHandle,
    handles: { name: string; handle: DatabaseHandle }[],
    private readonly options: ReadReplicasOptions,
  ) {
    this.replicas = handles.map(({ name, handle }) => ({
      name,
      handle,
      up: false,
      inRotation: false,
      lagMs: undefined,
      replay: undefined,
      reading: undefined,
    }));
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silent;
    this.checkEveryMs =
      options.checkEveryMs ?? Math.min(1_000, Math.max(50, Math.floor(options.maxLagMs / 4)));
  }

  /**
   * Opens a pool per replica (connections are made on first use, so a replica that is down
   * does not stop the gateway from starting), runs a first check, and starts the periodic one.
   */
  static async open(options: ReadReplicasOptions): Promise<ReadReplicas> {
    if (options.primary.kind !== 'postgres') {
      throw new Error('read replicas need a PostgreSQL primary (DATABASE_URL), not PGlite');
    }
    const handles: { name: string; handle: DatabaseHandle }[] = [];
    for (const url of options.urls) {
      const parsed = new URL(url);
      const name = `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
      const observer = options.observer;
      handles.push({
        name,
        handle: await openDatabase({
          databaseUrl: url,
          poolMax: options.poolMax ?? 10,
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(observer ? { logger: { logQuery: () => observer.statement(name) } } : {}),
        }),
      });
    }
    const set = new ReadReplicas(options.primary, handles, options);
    await set.check();
    set.timer = setInterval(() => void set.check(), set.checkEveryMs);
    set.timer.unref();
    return set;
  }

  /**
   * The primary's current WAL position (`pg_lsn` text): a mutation's consistency token. The
   * insert position, not `pg_current_wal_lsn()` (the written one): with `synchronous_commit =
   * off` a commit may not be written yet when its transaction returns, and the insert position
   * is past it either way.
   */
  async position(): Promise<string> {
    const [row] = await queryRows<{ lsn: string }>(
      this.primary.db,
      sql`select pg_current_wal_insert_lsn()::text as lsn`,
    );
    if (!row) throw new Error('pg_current_wal_insert_lsn() returned no row');
    return row.lsn;
  }

  /**
   * Where a read goes: a replica in rotation that has replayed `token` (a 64-bit WAL position;
   * absent: any replica in rotation), waiting for one at most `waitMs`; else the primary.
   */
  async route(requested?: bigint): Promise<ReadRoute> {
    const started = performance.now();
    if (this.floorReading) await this.floorReading;
    const floor = this.floor;
    const token =
      floor !== undefined && (requested === undefined || floor > requested) ? floor : requested;
    const candidates = this.replicas.filter((replica) => replica.inRotation);
    let chosen: Replica | undefined;
    let reason: ReadRoute['reason'] = 'no-replica';
    if (candidates.length > 0) {
      chosen = this.pick(candidates, token);
      if (!chosen && token !== undefined && (await this.aheadOfPrimary(token))) {
        reason = 'token-ahead';
      } else if (!chosen && token !== undefined) {
        reason = 'waited-out';
        const deadline = started + this.options.waitMs;
        while (!chosen && !this.closed && performance.now() + POLL_MS <= deadline) {
          await sleep(POLL_MS);
          await Promise.all(candidates.map((replica) => this.readReplay(replica)));
          chosen = this.pick(
            candidates.filter((replica) => replica.inRotation),
            token,
          );
        }
      }
    }
    const waitedMs = token === undefined ? 0 : performance.now() - started;
    const route: ReadRoute = chosen
      ? { db: chosen.handle.db, target: chosen.name, reason: 'replica', waitedMs }
      : { db: this.primary.db, target: 'primary', reason, waitedMs };
    this.options.observer?.routed(route.target, route.reason, route.waitedMs);
    return route;
  }

  /**
   * Whether `token` is past the primary's current position (a forged or foreign token: waiting
   * for a replica to replay it would only hold the read for `waitMs`). Reads the primary only
   * when the token is past the last position the lag check saw; false if it cannot be read.
   */
  private async aheadOfPrimary(token: bigint): Promise<boolean> {
    const seen = this.samples.at(-1)?.lsn;
    if (seen !== undefined && token <= seen) return false;
    const current = parseLsn(await this.position().catch(() => ''));
    return current !== undefined && token > current;
  }

  /**
   * Raises the floor to the primary's current position (see the module comment); concurrent
   * calls share one read, and reads routed meanwhile wait for it. If the primary cannot be
   * read, reads go to the primary until a later call succeeds.
   */
  raiseFloor(): void {
    if (this.floorReading) {
      this.floorAgain = true;
      return;
    }
    this.floorReading = (async () => {
      do {
        this.floorAgain = false;
        try {
          this.floor = parseLsn(await this.position());
        } catch {
          // Unknown: no replica can be shown to have replayed it.
          this.floor = BigInt('0xFFFFFFFFFFFFFFFF');
        }
      } while (this.floorAgain && !this.closed);
    })().finally(() => {
      this.floorReading = undefined;
    });
  }

  /**
   * A read sent to replica `target` failed because the server was unreachable: it leaves the
   * rotation now (the next check brings it back once it answers and is caught up).
   */
  markUnavailable(target: string): void {
    const replica = this.replicas.find((candidate) => candidate.name === target);
    if (!replica?.inRotation) return;
    replica.up = false;
    this.leave(replica, 'unreachable');
  }

  /** Every replica as the last check saw it. */
  status(): ReplicaStatus[] {
    return this.replicas.map((replica) => ({
      name: replica.name,
      up: replica.up,
      inRotation: replica.inRotation,
      lagMs: replica.lagMs,
      replayLsn: replica.replay === undefined ? undefined : formatLsn(replica.replay),
    }));
  }

  /** Runs one check now (see the module comment); concurrent calls share it. */
  check(): Promise<void> {
    this.checking ??= this.runCheck().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  /** Stops the checks and closes the replicas' pools. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.checking?.catch(() => {});
    await Promise.all(this.replicas.map((replica) => replica.handle.close()));
  }

  /** The next replica in `candidates` (round robin) that has replayed `token`. */
  private pick(candidates: Replica[], token: bigint | undefined): Replica | undefined {
    const ready =
      token === undefined
        ? candidates
        : candidates.filter((replica) => replica.replay !== undefined && replica.replay >= token);
    if (ready.length === 0) return undefined;
    this.next = (this.next + 1) % 1_000_000;
    return ready[this.next % ready.length];
  }

  /** Reads a replica's replay position; concurrent callers share one statement. */
  private readReplay(replica: Replica): Promise<void> {
    replica.reading ??= within(
      queryRows<{ lsn: string | null }>(
        replica.handle.db,
        sql`select pg_last_wal_replay_lsn()::text as lsn`,
      ),
      Math.max(1_000, this.checkEveryMs * 2),
    )
      .then(([row]) => {
        const lsn = row?.lsn == null ? undefined : parseLsn(row.lsn);
        // null: the server is not in recovery (promoted, or not a standby at all).
        if (lsn === undefined) {
          if (replica.up || replica.inRotation) {
            this.logger.warn(
              { replica: replica.name },
              'read replica is not a standby (pg_last_wal_replay_lsn() is null): not used',
            );
          }
          replica.up = false;
          replica.replay = undefined;
          return;
        }
        replica.up = true;
        replica.replay = lsn;
      })
      .catch(() => {
        replica.up = false;
      })
      .finally(() => {
        replica.reading = undefined;
      });
    return replica.reading;
  }

  private async runCheck(): Promise<void> {
    if (this.closed) return;
    let primary: bigint | undefined;
    try {
      primary = parseLsn(await within(this.position(), Math.max(1_000, this.checkEveryMs * 2)));
    } catch {
      // The primary is away: lags cannot be measured; replicas keep their state until it is back.
    }
    const at = this.now();
    const last = this.samples.at(-1);
    if (primary !== undefined && (!last || primary > last.lsn))
      this.samples.push({ at, lsn: primary });
    await Promise.all(this.replicas.map((replica) => this.readReplay(replica)));
    if (this.closed) return;
    for (const replica of this.replicas) {
      if (!replica.up || replica.replay === undefined) {
        replica.lagMs = undefined;
        if (replica.inRotation) this.leave(replica, 'unreachable');
        continue;
      }
      if (primary === undefined) continue;
      const replay = replica.replay;
      const behind = this.samples.find((sample) => sample.lsn > replay);
      replica.lagMs = behind ? Math.max(0, at - behind.at) : 0;
      if (replica.lagMs > this.options.maxLagMs) {
        if (replica.inRotation) this.leave(replica, 'lagging');
      } else if (!replica.inRotation) {
        replica.inRotation = true;
        this.logger.info(
          { replica: replica.name, lagMs: replica.lagMs },
          'read replica in rotation',
        );
      }
    }
    this.prune();
  }

  private leave(replica: Replica, why: 'lagging' | 'unreachable'): void {
    replica.inRotation = false;
    this.logger.warn(
      { replica: replica.name, lagMs: replica.lagMs, maxLagMs: this.options.maxLagMs },
      why === 'lagging'
        ? 'read replica out of rotation: it lags more than CHIPGATE_REPLICA_MAX_LAG_MS'
        : 'read replica out of rotation: unreachable',
    );
  }

  /** Drops the samples every replica is past (keeping the newest), and bounds the list. */
  private prune(): void {
    const replays = this.replicas
      .map((replica) => replica.replay)
      .filter((lsn): lsn is bigint => lsn !== undefined);
    if (replays.length > 0) {
      let slowest = replays[0] as bigint;
      for (const lsn of replays) if (lsn < slowest) slowest = lsn;
      const keepFrom = this.samples.findIndex((sample) => sample.lsn > slowest);
      this.samples = this.samples.slice(keepFrom === -1 ? -1 : Math.max(0, keepFrom));
    }
    if (this.samples.length > 10_000) this.samples = this.samples.slice(-10_000);
  }
}
