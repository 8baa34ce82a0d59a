/**
 * One subscriber's event stream: an async iterator over the events that match its filter,
 * first replayed from the store (when it resumes `after` a cursor), then live from the hub.
 *
 * - Memory is bounded: live events wait in a queue of at most `maxQueue`; one more and the
 *   subscriber is closed with a `SlowConsumerNotice` as its last item (the schema turns it into
 *   a `SLOW_CONSUMER` error), instead of growing without bound behind a slow client.
 * - `return()` (a client that disconnects) unregisters at once, even while a `next()` waits,
 *   so nothing of a gone client stays behind (an async generator could not do that: its
 *   `return()` waits for the pending `next()`; a `Repeater`, from graphql-yoga, can: its stop
 *   promise settles on `return()`, and its pending `next()` resolves as done).
 * - The repeater pulls an item only when the client asks for one (it awaits each `push`), so
 *   the live events a slow client has not read all wait in the bounded queue.
 * - Each event is delivered once: replayed events advance `replayedThrough`, and live events
 *   at or below it are dropped.
 */
import { Repeater } from 'graphql-yoga';
import type { EventEnvelope } from '../db/events.js';

/** The last item of a subscriber that fell behind; the stream ends after it. */
export interface SlowConsumerNotice {
  slowConsumer: true;
  /** How many events were waiting when the subscriber was closed. */
  queued: number;
}

/**
 * The last item of a subscriber whose replay would pass `replayMax` events (more were committed
 * between the cursor's check and the subscription's start); the stream ends after it.
 */
export interface ReplayLimitNotice {
  replayLimit: true;
  /** `event_seq` of the last event replayed: resuming after it loses nothing. */
  resumeAfter: number;
}

/** What a subscriber's iterator yields. */
export type SubscriberItem = EventEnvelope | SlowConsumerNotice | ReplayLimitNotice;

/** Reads a page of stored events after a sequence number, oldest first (for replay). */
export type ReplayPageLoader = (afterSeq: number, limit: number) => Promise<EventEnvelope[]>;

/** Options of one subscriber. */
export interface SubscriberOptions {
  /** Whether an event is for this subscriber (topic and filter). */
  matches: (event: EventEnvelope) => boolean;
  /** Replay stored events after this `event_seq` before going live; undefined = live only. */
  afterSeq?: number | undefined;
  /** Most live events that may wait for a slow client. */
  maxQueue: number;
  /** Events read per replay query. */
  replayPageSize: number;
  /**
   * Most events replayed (matching or not): past it the stream ends with a `ReplayLimitNotice`
   * rather than skip any.
   */
  replayMax: number;
  /**
   * Last `event_seq` the hub had offered before this subscriber registered: the replay ends
   * there, since everything after it reaches this subscriber live.
   */
  replayUntil: number;
  loadReplayPage: ReplayPageLoader;
  /** Called once when the subscriber ends for any reason (client gone, overflow, shutdown). */
  onEnd: (subscriber: Subscriber) => void;
}

/** An async iterator of one subscriber's events; see the module comment. */
export class Subscriber implements AsyncIterableIterator<SubscriberItem> {
  private readonly options: SubscriberOptions;
  private readonly queue: EventEnvelope[] = [];
  private replayBuffer: EventEnvelope[] = [];
  private replaying: boolean;
  private replayedThrough: number;
  private notice: SlowConsumerNotice | ReplayLimitNotice | undefined;
  private replayed = 0;
  private ended = false;
  private registered = true;
  private wake: (() => void) | undefined;
  /** The stream the client reads: pulls one item per `next()` the client makes. */
  private readonly items: Repeater<SubscriberItem>;

  constructor(options: SubscriberOptions) {
    this.options = options;
    this.replaying = options.afterSeq !== undefined;
    this.replayedThrough = options.afterSeq ?? 0;
    this.items = new Repeater<SubscriberItem>(async (push, stop) => {
      // `return()`/`throw()` by the client: unregister now, and wake a waiting `pull()`.
      void stop.then(() => this.end());
      for (;;) {
        const item = await this.pull();
        if (item.done) break;
        await push(item.value);
      }
      stop();
    });
  }

  /** Offers a live event (the hub calls this in commit order); true when it was queued. */
  offer(event: EventEnvelope): boolean {
    if (this.ended || this.notice || !this.options.matches(event)) return false;
    let queued = false;
    if (this.queue.length >= this.options.maxQueue) {
      this.notice = { slowConsumer: true, queued: this.queue.length };
      this.queue.length = 0;
      this.unregister();
    } else {
      this.queue.push(event);
      queued = true;
    }
    this.wake?.();
    return queued;
  }

  /** Ends the stream normally (shutdown): a waiting `next()` resolves as done. */
  end(): void {
    this.ended = true;
    this.notice = undefined;
    this.queue.length = 0;
    this.replayBuffer = [];
    this.unregister();
    this.wake?.();
  }

  next(): Promise<IteratorResult<SubscriberItem>> {
    return this.items.next();
  }

  return(): Promise<IteratorResult<SubscriberItem>> {
    this.end();
    return this.items.return();
  }

  throw(error?: unknown): Promise<IteratorResult<SubscriberItem>> {
    this.end();
    return this.items.throw(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next item of the stream, waiting for a live event when none is due; done once ended. */
  private async pull(): Promise<IteratorResult<SubscriberItem>> {
    for (;;) {
      if (this.notice && !(this.replayBuffer.length > 0 && 'replayLimit' in this.notice)) {
        const notice = this.notice;
        this.notice = undefined;
        this.ended = true;
        return { value: notice, done: false };
      }
      if (this.ended) return { value: undefined, done: true };
      const replayed = this.replayBuffer.shift();
      if (replayed) return { value: replayed, done: false };
      if (this.replaying) {
        await this.replayPage();
        continue;
      }
      const live = this.queue.shift();
      if (live) {
        if (live.seq > this.replayedThrough) return { value: live, done: false };
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  /**
   * Reads the next page of the replay: events after `replayedThrough` up to `replayUntil`, at
   * most `replayMax` in all; one more than that ends the stream with a `ReplayLimitNotice`
   * after the events replayed so far.
   */
  private async replayPage(): Promise<void> {
    const { replayPageSize, replayMax, replayUntil, loadReplayPage, matches } = this.options;
    const room = replayMax - this.replayed;
    const limit = Math.min(replayPageSize, room + 1);
    const page = await loadReplayPage(this.replayedThrough, limit);
    if (this.ended) return;
    const due = page.filter((event) => event.seq <= replayUntil);
    const kept = due.slice(0, room);
    const last = kept.at(-1);
    if (last) this.replayedThrough = last.seq;
    this.replayed += kept.length;
    this.replayBuffer = kept.filter(matches);
    if (due.length > room) {
      this.replaying = false;
      this.notice = { replayLimit: true, resumeAfter: this.replayedThrough };
      this.queue.length = 0;
      this.unregister();
    } else if (due.length < page.length || page.length < limit) {
      this.replaying = false;
    }
  }

  private unregister(): void {
    if (!this.registered) return;
    this.registered = false;
    this.options.onEnd(this);
  }
}
