/**
 * The catch-up reads of resuming subscriptions, shared: after an instance restart thousands of
 * subscribers come back at once with `after:` their last cursor, and each would check its
 * cursor and read its replay with statements of its own. Here they share them.
 *
 * - Requests that arrive together (while a read runs, or in the same turn of the event loop)
 *   go out as one statement per group of nearby cursors (`loadEventWindow`: events after the
 *   group's lowest cursor, enough rows for every member, and the newest `event_seq`).
 * - A window read stays usable for `ttlMs` after its last use (and `maxAgeMs` at most): a later
 *   request is answered from it when the window holds what a fresh statement would answer (see
 *   `answers`), so subscribers that reconnect over a few seconds with the same cursor cost one
 *   statement between them.
 * - Windows share their event objects (one object per `event_seq` among the windows kept), so
 *   every subscriber that replays an event receives the same object, and the per-event
 *   execution is shared among them like a live event's (`shared-execution.ts`).
 *
 * Exactness: `event_seq` is commit order and a window's `newest` comes from the same snapshot
 * as its events, so a window that was not cut by its row limit holds every event up to
 * `newest`, and one that was cut holds every event up to its last row. A request names the
 * position it needs complete (`through`: what its hub had delivered, all committed), and is only
 * answered from a window complete that far; a window read after the request arrived always
 * is, since the hub only knows committed events.
 */
import type { EventEnvelope, EventWindow } from '../db/events.js';

/** Reads a window of events (one statement), e.g. `loadEventWindow` bound to a database. */
export type WindowLoader = (afterSeq: number, limit: number) => Promise<EventWindow>;

/** Settings of the reader. */
export interface ReplayReaderOptions {
  /** How long a window answers later requests after its last use (ms; default 2,000). */
  ttlMs?: number;
  /** How long a window answers later requests at most after it was read (ms; default 10,000). */
  maxAgeMs?: number;
  /** Most rows one statement reads; requests whose cursors are further apart split (default 1,000). */
  maxRows?: number;
  /** Milliseconds now (default `Date.now`). */
  clock?: () => number;
}

/** Most windows kept at once (each holds at most `maxRows` events). */
const MAX_WINDOWS = 32;

/** A window as kept: what was asked, what came back, when. */
interface Window {
  from: number;
  limit: number;
  events: EventEnvelope[];
  newest: number;
  readAt: number;
  usedAt: number;
}

/** A request waiting for a read; `through` undefined: it needs a window read after it came. */
interface Pending {
  afterSeq: number;
  limit: number;
  through: number | undefined;
  resolve: (window: Window) => void;
  reject: (error: unknown) => void;
}

/** What a cursor check learns: see `ReplayReader.behind`. */
export interface CursorPosition {
  /** The highest `event_seq` committed (as of the window that answered). */
  newest: number;
  /** Events after the cursor, counted up to the limit asked for. */
  behind: number;
}

/** See the module comment. */
export class ReplayReader {
  private readonly ttlMs: number;
  private readonly maxAgeMs: number;
  private readonly maxRows: number;
  private readonly clock: () => number;
  private windows: Window[] = [];
  private pending: Pending[] = [];
  private reading: Promise<void> | undefined;
  private scheduled = false;
  /** Statements sent so far (figures for tests and metrics). */
  statements = 0;

  constructor(
    private readonly load: WindowLoader,
    options: ReplayReaderOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 2_000;
    this.maxAgeMs = options.maxAgeMs ?? 10_000;
    this.maxRows = options.maxRows ?? 1_000;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * What `loadEventsAfter(afterSeq, limit)` would answer now, as far as the caller needs it:
   * the events after `afterSeq`, oldest first, at most `limit`, complete at least through
   * `through` (fewer than `limit` means there are no more up to `through`; events after it may
   * be missing). Rejects when the read fails.
   */
  async read(afterSeq: number, limit: number, through: number): Promise<EventEnvelope[]> {
    const window =
      this.usable(afterSeq, limit, through) ?? (await this.request(afterSeq, limit, through));
    return window.events.filter((event) => event.seq > afterSeq).slice(0, limit);
  }

  /**
   * A subscription cursor's position: the newest committed `event_seq`, and how many events
   * came after `afterSeq`, counting at most `limit`; as fresh as `through` (the caller's hub
   * position). A cursor past `newest` is always checked with a fresh statement.
   */
  async behind(afterSeq: number, limit: number, through: number): Promise<CursorPosition> {
    const window = this.usable(afterSeq, limit, through);
    if (window && afterSeq <= window.newest) return positionIn(window, afterSeq, limit);
    return positionIn(await this.request(afterSeq, limit, undefined), afterSeq, limit);
  }

  private request(afterSeq: number, limit: number, through: number | undefined): Promise<Window> {
    return new Promise((resolve, reject) => {
      this.pending.push({ afterSeq, limit, through, resolve, reject });
      this.schedule();
    });
  }

  /** Forgets every window (the hub closed). */
  clear(): void {
    this.windows = [];
  }

  /** A kept window that answers (afterSeq, limit, through), else undefined. */
  private usable(afterSeq: number, limit: number, through: number): Window | undefined {
    const now = this.clock();
    this.windows = this.windows.filter(
      (window) => now - window.usedAt < this.ttlMs && now - window.readAt < this.maxAgeMs,
    );
    const window = this.windows.findLast((kept) => answers(kept, afterSeq, limit, through));
    if (window) window.usedAt = now;
    return window;
  }

  private schedule(): void {
    if (this.reading || this.scheduled) return;
    this.scheduled = true;
    // The requests of this turn of the event loop go out together.
    setImmediate(() => {
      this.scheduled = false;
      this.reading = this.flush().finally(() => {
        this.reading = undefined;
        if (this.pending.length > 0) this.schedule();
      });
    });
  }

  /** Answers the waiting requests: from kept windows, else one statement per group. */
  private async flush(): Promise<void> {
    const waiting = this.pending;
    this.pending = [];
    const unanswered: Pending[] = [];
    for (const request of waiting) {
      const { afterSeq, limit, through } = request;
      const cached = through === undefined ? undefined : this.usable(afterSeq, limit, through);
      if (cached) request.resolve(cached);
      else unanswered.push(request);
    }
    await Promise.all(groups(unanswered, this.maxRows).map((group) => this.readGroup(group)));
  }

  private async readGroup(group: Pending[]): Promise<void> {
    const from = Math.min(...group.map((request) => request.afterSeq));
    const highest = Math.max(...group.map((request) => request.afterSeq));
    // At most `highest - from` events lie between the cursors (event_seq values are distinct),
    // so every request finds `limit` rows after its cursor unless there are fewer.
    const limit = highest - from + Math.max(...group.map((request) => request.limit));
    let window: EventWindow;
    try {
      this.statements += 1;
      window = await this.load(from, limit);
    } catch (error) {
      for (const request of group) request.reject(error);
      return;
    }
    const now = this.clock();
    const kept: Window = { from, limit, ...window, readAt: now, usedAt: now };
    kept.events = this.canonical(kept.events);
    this.windows.push(kept);
    // Memory stays bounded whatever the traffic: the oldest windows go first.
    if (this.windows.length > MAX_WINDOWS) this.windows.shift();
    for (const request of group) {
      // A window read after the request arrived always answers it (see the module comment);
      // should it not, the request reads alone rather than receive less than it needs.
      const { afterSeq, limit, through } = request;
      if (answers(kept, afterSeq, limit, through ?? kept.newest)) request.resolve(kept);
      else {
        this.statements += 1;
        this.load(afterSeq, limit).then(
          (own) => request.resolve({ from: afterSeq, limit, ...own, readAt: now, usedAt: now }),
          request.reject,
        );
      }
    }
  }

  /** `events` with each replaced by the kept windows' object of the same `event_seq`. */
  private canonical(events: EventEnvelope[]): EventEnvelope[] {
    const known = new Map<number, EventEnvelope>();
    for (const window of this.windows)
      for (const event of window.events) known.set(event.seq, event);
    return events.map((event) => known.get(event.seq) ?? event);
  }
}

/** How far a window holds every event: its last row when its limit cut it, else `newest`. */
function completeThrough(window: Window): number {
  const last = window.events.at(-1);
  return window.events.length >= window.limit && last ? last.seq : window.newest;
}

/**
 * Whether `window` holds what a fresh read of (afterSeq, limit) needs through `through`: it
 * starts at or before the cursor and has `limit` rows after it or every event up to `through`.
 */
function answers(window: Window, afterSeq: number, limit: number, through: number): boolean {
  if (window.from > afterSeq) return false;
  return countAfter(window.events, afterSeq) >= limit || completeThrough(window) >= through;
}

function countAfter(events: EventEnvelope[], afterSeq: number): number {
  let count = 0;
  for (const event of events) if (event.seq > afterSeq) count += 1;
  return count;
}

function positionIn(window: Window, afterSeq: number, limit: number): CursorPosition {
  return { newest: window.newest, behind: Math.min(countAfter(window.events, afterSeq), limit) };
}

/**
 * Splits requests (sorted by cursor) into groups whose one statement reads at most `maxRows`
 * rows (`highest - lowest` cursor plus the largest limit).
 */
function groups(requests: Pending[], maxRows: number): Pending[][] {
  const sorted = [...requests].sort((a, b) => a.afterSeq - b.afterSeq);
  const result: Pending[][] = [];
  let current: Pending[] = [];
  let from = 0;
  let largest = 0;
  for (const request of sorted) {
    const limit = Math.max(largest, request.limit);
    if (current.length > 0 && request.afterSeq - from + limit > maxRows) {
      result.push(current);
      current = [];
    }
    if (current.length === 0) {
      from = request.afterSeq;
      largest = 0;
    }
    current.push(request);
    largest = Math.max(largest, request.limit);
  }
  if (current.length > 0) result.push(current);
  return result;
}
