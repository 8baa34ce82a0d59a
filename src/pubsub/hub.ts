/**
 * The event hub of one gateway instance: fans committed events out to this instance's
 * subscribers, whichever instance or tool wrote them.
 *
 * A notification on `chipgate_events` is only a doorbell. On each one the hub reads every
 * event after the last one it delivered (`event_seq > lastSeq`, oldest first, one statement
 * per page) and offers each to the subscribers, so:
 * - a burst of notifications costs one read;
 * - after a lost LISTEN connection the same read delivers what was missed, in commit order,
 *   exactly once (event_seq is commit order; see `src/db/events.ts`);
 * - filter attributes are loaded once per event, not once per subscriber;
 * - an instance without subscribers only moves its mark and reads nothing;
 * - subscribers that resume with `after:` share their cursor checks and replay reads (see
 *   `replay.ts`): a reconnect storm costs a few statements per cursor, not per subscriber.
 */
import { randomUUID } from 'node:crypto';
import { REPLAY_MAX } from '../cost.js';
import { databaseErrorReason } from '../db/availability.js';
import { sendChangeFence } from '../db/changes.js';
import type { Database, DatabaseHandle } from '../db/client.js';
import {
  type EventEnvelope,
  latestEventSeq,
  loadEventsAfter,
  loadEventWindow,
} from '../db/events.js';
import type { LogCalls } from '../log-calls.js';
import { type ChangeNotice, parseChange } from './changes.js';
import { CHANGES_CHANNEL, type EventListener, startListener } from './listener.js';
import { type CursorPosition, ReplayReader } from './replay.js';
import { Subscriber } from './subscriber.js';

/** Settings of the hub (see the README's configuration table). */
export interface HubOptions {
  /** Most live events that may wait for one slow subscriber before it is closed. */
  maxQueue: number;
  /** Events read per catch-up or replay statement. */
  pageSize?: number;
  logger?: HubLogger;
  /** Hears of deliveries and reconnects (the metrics). */
  observer?: HubObserver;
  /**
   * Read replicas: the primary's current WAL position (`ReadReplicas.position`), read after
   * each page of live events is loaded and stamped on them as `lsn`, so their payloads are read
   * on a replica only once it has replayed them. Absent: no stamp.
   */
  position?: () => Promise<string>;
}

/** What the hub reports as it works (the metrics module implements it). */
export interface HubObserver {
  /** An event went to `subscribers` subscribers; `committedAt`: its transaction's time (Unix s). */
  delivered(subscribers: number, committedAt: number | undefined): void;
  /** The LISTEN connection was re-established after a loss. */
  reconnected(): void;
}

/** The logger calls the hub makes (pino satisfies it). */
export type HubLogger = Pick<LogCalls, 'info' | 'warn' | 'error'>;

/** A snapshot of the hub for health checks, metrics and hygiene tests. */
export interface HubStats {
  /** Subscribers currently registered. */
  subscribers: number;
  /** Whether the LISTEN connection is in place. */
  listening: boolean;
  /** Times LISTEN has been established (1 + reconnects). */
  listenConnections: number;
  /** Backend pid of the LISTEN session (PostgreSQL). */
  listenBackendPid: number | undefined;
  /** `event_seq` of the last event delivered. */
  lastSeq: number;
}

const silent: HubLogger = { info() {}, warn() {}, error() {} };

/** See the module comment. Create with `EventHub.start`. */
export class EventHub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly pageSize: number;
  private readonly logger: HubLogger;
  private listener: EventListener | undefined;
  private lastSeq = 0;
  private draining: Promise<void> | undefined;
  private drainAgain = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private waiters: { seq: number; resolve: () => void }[] = [];
  private readonly changeListeners = new Set<(change: ChangeNotice) => void>();
  private readonly fences = new Map<string, () => void>();
  /** The shared catch-up reads of resuming subscribers. */
  readonly replay: ReplayReader;

  private constructor(
    private readonly db: Database,
    private readonly options: HubOptions,
  ) {
    this.pageSize = options.pageSize ?? 500;
    this.logger = options.logger ?? silent;
    this.replay = new ReplayReader((after, limit) => loadEventWindow(db, after, limit));
  }

  /**
   * Starts the hub: LISTEN first, then the current high-water mark, so every event committed
   * after start is delivered. Rejects when the database cannot be reached.
   */
  static async start(handle: DatabaseHandle, options: HubOptions): Promise<EventHub> {
    const hub = new EventHub(handle.db, options);
    let started = false;
    hub.listener = await startListener(handle, {
      onNotify: (payload, channel) => {
        if (channel === CHANGES_CHANNEL) hub.onChangeNotify(payload);
        else if (started) hub.onNotify(payload);
      },
      onConnect: () => {
        if (!started) return;
        hub.logger.info({}, 'event LISTEN connection re-established; catching up');
        // Changes committed while the connection was down were not heard: all may differ.
        hub.emitChange({ reset: true });
        options.observer?.reconnected();
        hub.drain();
      },
      onDisconnect: (error, retryInMs) =>
        hub.logger.warn(
          { err: error, retryInMs },
          'event LISTEN connection lost; live updates resume after reconnecting',
        ),
    });
    hub.lastSeq = await latestEventSeq(handle.db);
    started = true;
    // A commit between reading the high-water mark and now notified while `started` was
    // false; one read after it picks such events up.
    hub.drain();
    return hub;
  }

  /**
   * Registers a subscriber. It receives matching events committed after this call, preceded
   * (when `afterSeq` is given) by the stored events after `afterSeq`, at most `REPLAY_MAX`
   * (then it ends with a `ReplayLimitNotice`; `checkedAfter` refuses such cursors beforehand).
   */
  subscribe(matches: (event: EventEnvelope) => boolean, afterSeq?: number): Subscriber {
    const replayUntil = this.lastSeq;
    const subscriber = new Subscriber({
      matches,
      afterSeq,
      maxQueue: this.options.maxQueue,
      replayPageSize: this.pageSize,
      replayMax: REPLAY_MAX,
      replayUntil,
      // Shared with the other subscribers resuming meanwhile; complete through `replayUntil`.
      loadReplayPage: (after, limit) => this.replay.read(after, limit, replayUntil),
      onEnd: (ended) => this.subscribers.delete(ended),
    });
    if (this.closed) subscriber.end();
    else this.subscribers.add(subscriber);
    return subscriber;
  }

  /**
   * Where a subscription cursor (`event_seq`) stands: the newest committed event, and how many
   * came after the cursor, counted up to `limit`. Shared with the other subscribers resuming
   * meanwhile (see `replay.ts`); the window it reads then serves their replays too.
   */
  cursorPosition(afterSeq: number, limit: number): Promise<CursorPosition> {
    return this.replay.behind(afterSeq, limit, this.lastSeq);
  }

  /**
   * Hears of every change to the tables the API reads, from any writer (a notice per
   * statement, see the `change_notify` migration), and `{ reset: true }` after the LISTEN
   * connection was lost and re-established (changes may have been missed). Returns the
   * function that stops listening.
   */
  onChange(listener: (change: ChangeNotice) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /**
   * Resolves once this instance has heard every change committed before the call (a fence
   * notification sent after them came back), so a writer's own next read finds evicted what it
   * changed; after `timeoutMs` at the latest (the LISTEN connection may be down).
   */
  async fence(timeoutMs = 1_000): Promise<void> {
    const token = randomUUID();
    const heard = new Promise<void>((resolve) => {
      this.fences.set(token, resolve);
      setTimeout(resolve, timeoutMs).unref();
    });
    try {
      await sendChangeFence(this.db, token);
      await heard;
    } catch {
      // The database is unreachable: nothing was written, nothing to wait for.
    } finally {
      this.fences.delete(token);
    }
  }

  private onChangeNotify(payload: string): void {
    const fence = fenceOf(payload);
    if (fence) {
      this.fences.get(fence)?.();
      return;
    }
    const change = parseChange(payload);
    if (change) this.emitChange(change);
    else this.logger.warn({}, 'ignored a malformed change notification');
  }

  private emitChange(change: ChangeNotice): void {
    for (const listener of this.changeListeners) listener(change);
  }

  /** Current figures; see `HubStats`. */
  stats(): HubStats {
    return {
      subscribers: this.subscribers.size,
      listening: this.listener?.connected ?? false,
      listenConnections: this.listener?.connections ?? 0,
      listenBackendPid: this.listener?.backendPid,
      lastSeq: this.lastSeq,
    };
  }

  /** Resolves when no read is in progress (tests, before counting statements). */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /**
   * Resolves once the event with `event_seq` = `seq` (and everything before it) has been
   * offered to subscribers, and no read is in progress (tests await this, not a timer).
   */
  async delivered(seq: number): Promise<void> {
    if (this.lastSeq < seq) {
      await new Promise<void>((resolve) => this.waiters.push({ seq, resolve }));
    }
    await this.settled();
  }

  /**
   * Ends every subscription normally (transports send their "complete" message) and releases
   * the LISTEN connection. Later subscriptions end at once.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    for (const subscriber of [...this.subscribers]) subscriber.end();
    this.replay.clear();
    await this.listener?.close();
    await this.draining?.catch(() => {});
  }

  private onNotify(payload: string): void {
    let seq = Number.NaN;
    try {
      seq = Number((JSON.parse(payload) as { seq?: unknown }).seq);
    } catch {
      // Not ours or malformed: read anyway, the table is the truth.
    }
    if (Number.isFinite(seq) && seq <= this.lastSeq) return;
    // Nobody to deliver to: move the mark without reading. (Later subscribers only receive
    // what commits after they subscribe, or replay it from the tables with `after:`.)
    if (Number.isFinite(seq) && this.subscribers.size === 0 && !this.draining) {
      this.advanceTo(seq);
      return;
    }
    this.drain();
  }

  /** Moves the high-water mark and resolves the `delivered()` waiters it satisfies. */
  private advanceTo(seq: number): void {
    this.lastSeq = seq;
    this.waiters = this.waiters.filter((waiter) => {
      if (waiter.seq > seq) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Reads and delivers everything after `lastSeq`; coalesces concurrent calls. */
  private drain(): void {
    if (this.closed) return;
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = this.drainLoop()
      .catch((error: unknown) => {
        // A failed read loses nothing (lastSeq did not move); try again shortly.
        const reason = databaseErrorReason(error);
        if (reason)
          this.logger.warn({ reason }, 'database unavailable: reading events again in 1 s');
        else this.logger.error({ err: error }, 'reading events failed; retrying in 1 s');
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.drain(), 1_000);
        this.retryTimer.unref();
      })
      .finally(() => {
        this.draining = undefined;
      });
  }

  private async drainLoop(): Promise<void> {
    do {
      this.drainAgain = false;
      for (;;) {
        const events = await loadEventsAfter(this.db, this.lastSeq, this.pageSize);
        if (events.length > 0 && this.subscribers.size > 0 && this.options.position) {
          // Read after the events were: at or past each one's commit. Unstamped on failure
          // (their payloads are then read on the primary).
          const lsn = await this.options.position().catch(() => undefined);
          if (lsn !== undefined) for (const event of events) event.lsn = lsn;
        }
        for (const event of events) {
          if (this.closed) return;
          let delivered = 0;
          for (const subscriber of this.subscribers) if (subscriber.offer(event)) delivered += 1;
          this.options.observer?.delivered(delivered, event.at);
        }
        const last = events.at(-1);
        if (last) this.advanceTo(last.seq);
        if (events.length < this.pageSize) break;
      }
    } while (this.drainAgain && !this.closed);
  }
}

/** The token of a fence notification (`{"fence": token}`), else undefined. */
function fenceOf(payload: string): string | undefined {
  if (!payload.startsWith('{"fence"')) return undefined;
  try {
    const { fence } = JSON.parse(payload) as { fence?: unknown };
    return typeof fence === 'string' ? fence : undefined;
  } catch {
    return undefined;
  }
}
