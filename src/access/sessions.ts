/**
 * What API keys hold open on this instance (subscriptions, over SSE and WebSocket; WebSocket
 * connections), and what a change to a key does to them. Keys change in the database, whoever
 * changes them (`keys revoke|update` from any machine, psql): the `key_change_notify` trigger
 * announces it on the change feed, every instance hears it, authenticates again what the key
 * holds there (with the `Authorization` value it presented) and applies the outcome:
 *
 * - the key no longer authenticates (revoked, deleted, its hash replaced): every subscription of
 *   it ends with an `UNAUTHENTICATED` error as its last result, and every WebSocket connection
 *   it opened is closed with 4403 (graphql-ws' "Forbidden");
 * - the key became persisted-only: its subscriptions that are not registered trusted documents
 *   end with `PERSISTED_QUERY_ONLY`;
 * - its subscription limit is now below what it holds: the newest subscriptions over it end
 *   with `RATE_LIMITED` (reason `SUBSCRIPTIONS`); which ones is decided by when each slot was
 *   taken, the same on every instance (see `SubscriptionSlots.oldest`);
 * - anything else (scopes, request and cost limits) applies from the next operation, which is
 *   authenticated and counted afresh, including each operation over an open WebSocket.
 *
 * After the LISTEN connection was lost (changes may have been missed), every key holding
 * something is checked again. A subscription admitted while a change to its key was being
 * announced is checked as it registers, so none slips between the two.
 */
import { mapAsyncIterator } from '@graphql-tools/utils';
import type { ExecutionResult, GraphQLError } from 'graphql';
import type { Viewer } from '../auth.js';
import { authenticate } from '../auth.js';
import type { Database } from '../db/client.js';
import { PersistedQueryOnlyError, UnauthenticatedError } from '../errors.js';
import type { ChangeNotice } from '../pubsub/changes.js';
import type { SlotLease, SubscriptionSlots } from './subscription-slots.js';

/** graphql-ws' close code for a connection whose credentials are refused ("Forbidden"). */
export const FORBIDDEN_CLOSE_CODE = 4403;

/** A subscription of an API key, open on this instance. */
export interface KeySubscription {
  keyId: number;
  /** The `Authorization` value it was admitted with (authenticated again when the key changes). */
  authorization: string;
  /** Who its slot counts against (`key:<id>`). */
  subject: string;
  /** Its slot. */
  lease: SlotLease;
  /** Whether its document is a registered trusted document. */
  trusted: boolean;
  /** Ends it: `error` is its last result, then it completes. */
  end(error: GraphQLError): void;
}

/** A WebSocket connection opened with an API key. */
export interface KeyConnection {
  keyId: number;
  /** The `Authorization` value it connected with. */
  authorization: string;
  /** Closes the socket with this code and reason. */
  close(code: number, reason: string): void;
}

/** The change-feed position an admission saw (see `KeySessions.mark`). */
export type SessionMark = number;

/** Where failures of a check are reported (pino satisfies it). */
export interface SessionsLogger {
  warn: (object: object, message: string) => void;
}

/** How long a check that failed (the database did not answer) waits before it is tried again. */
const RETRY_MS = 1_000;

/**
 * What the sessions ask of partner access (`Access` answers): a key's current limits, the
 * `RATE_LIMITED` error that ends a subscription over them, and the subscription slots.
 */
export interface SessionAccess {
  limitsOf(viewer: Viewer): { persistedOnly: boolean; maxSubscriptions: number };
  refusal(
    viewer: Viewer,
    reason: 'SUBSCRIPTIONS',
    numbers: { limit: number; remaining: number; resetAt: number | null },
  ): GraphQLError;
  readonly slots: Pick<SubscriptionSlots, 'oldest'>;
}

/** See the module comment. One per `Access`. */
export class KeySessions {
  private readonly subscriptions = new Set<KeySubscription>();
  private readonly connections = new Set<KeyConnection>();
  /** Notices heard so far, and the last notice per key id (resets count for every key). */
  private heard = 0;
  private lastReset = 0;
  private readonly lastChange = new Map<number, number>();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly retrying = new Set<number>();
  private closed = false;

  constructor(
    private readonly access: SessionAccess,
    private readonly db: Database,
    private readonly logger?: SessionsLogger,
  ) {}

  /**
   * The change-feed position now. Take it before authenticating: a subscription or connection
   * registered with it is checked again at once if its key changed after the mark.
   */
  mark(): SessionMark {
    return this.heard;
  }

  /** Registers a subscription; returns the function that forgets it (call it when it ends). */
  addSubscription(subscription: KeySubscription, since: SessionMark): () => void {
    this.subscriptions.add(subscription);
    this.checkIfChanged(subscription.keyId, since);
    return () => this.subscriptions.delete(subscription);
  }

  /** Registers a WebSocket connection; returns the function that forgets it (on close). */
  addConnection(connection: KeyConnection, since: SessionMark): () => void {
    this.connections.add(connection);
    this.checkIfChanged(connection.keyId, since);
    return () => this.connections.delete(connection);
  }

  /** What this instance holds per key (tests, diagnostics). */
  held(keyId: number): { subscriptions: number; connections: number } {
    const count = (set: Set<{ keyId: number }>) =>
      [...set].filter((entry) => entry.keyId === keyId).length;
    return { subscriptions: count(this.subscriptions), connections: count(this.connections) };
  }

  /** Hears the change feed: key changes, and resets (changes may have been missed). */
  onChange(change: ChangeNotice): void {
    if ('reset' in change) {
      this.lastReset = ++this.heard;
      this.check('all');
      return;
    }
    if (change.table !== 'api_keys') return;
    this.heard += 1;
    if (change.all) {
      this.lastReset = this.heard;
      this.check('all');
      return;
    }
    const ids = new Set((change.keys?.api_keys ?? []).map(Number).filter(Number.isSafeInteger));
    for (const id of ids) this.lastChange.set(id, this.heard);
    this.check(ids);
  }

  /** Stops retrying failed checks. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private checkIfChanged(keyId: number, since: SessionMark): void {
    if ((this.lastChange.get(keyId) ?? 0) > since || this.lastReset > since) {
      this.check(new Set([keyId]));
    }
  }

  private check(keyIds: Set<number> | 'all'): void {
    if (this.closed) return;
    const applies = (entry: { keyId: number }) => keyIds === 'all' || keyIds.has(entry.keyId);
    const subscriptions = [...this.subscriptions].filter(applies);
    const connections = [...this.connections].filter(applies);
    if (subscriptions.length === 0 && connections.length === 0) return;
    this.apply(subscriptions, connections).catch((error: unknown) =>
      this.logger?.warn({ err: error }, 'checking what a changed API key holds open failed'),
    );
  }

  /** Authenticates each credential again (once) and applies the outcome to what it holds. */
  private async apply(
    subscriptions: KeySubscription[],
    connections: KeyConnection[],
  ): Promise<void> {
    const credentials = new Map<string, number>();
    for (const entry of [...subscriptions, ...connections]) {
      credentials.set(entry.authorization, entry.keyId);
    }
    await Promise.all(
      [...credentials].map(async ([authorization, keyId]) => {
        let viewer: Viewer;
        try {
          viewer = await authenticate(this.db, authorization);
        } catch (error) {
          if (error instanceof UnauthenticatedError) {
            this.refuse(error, authorization, subscriptions, connections);
          } else {
            this.logger?.warn(
              { err: error, keyId },
              'could not check an API key that changed; trying again in 1 s',
            );
            this.retry(keyId);
          }
          return;
        }
        const mine = subscriptions.filter(
          (subscription) =>
            subscription.authorization === authorization && this.subscriptions.has(subscription),
        );
        if (viewer.kind !== 'apiKey' || viewer.id !== keyId) {
          this.refuse(
            new UnauthenticatedError('The API key is not known.'),
            authorization,
            subscriptions,
            connections,
          );
          return;
        }
        await this.limit(viewer, mine);
      }),
    );
  }

  /** Ends every subscription and closes every connection made with `authorization`. */
  private refuse(
    error: UnauthenticatedError,
    authorization: string,
    subscriptions: KeySubscription[],
    connections: KeyConnection[],
  ): void {
    for (const subscription of subscriptions) {
      if (subscription.authorization === authorization) subscription.end(error);
    }
    for (const connection of connections) {
      if (connection.authorization === authorization) {
        connection.close(FORBIDDEN_CLOSE_CODE, 'Forbidden');
      }
    }
  }

  /** Ends the subscriptions the key's current limits no longer allow. */
  private async limit(viewer: Viewer & { kind: 'apiKey' }, held: KeySubscription[]) {
    const limits = this.access.limitsOf(viewer);
    let open = held;
    if (limits.persistedOnly) {
      for (const subscription of held) {
        if (!subscription.trusted) subscription.end(new PersistedQueryOnlyError());
      }
      open = held.filter((subscription) => subscription.trusted);
    }
    const [first] = open;
    if (!first) return;
    const kept = await this.access.slots.oldest(first.subject, limits.maxSubscriptions);
    const over = open.filter((subscription) => !kept.has(subscription.lease.id));
    if (over.length === 0) return;
    const refusal = this.access.refusal(viewer, 'SUBSCRIPTIONS', {
      limit: limits.maxSubscriptions,
      remaining: 0,
      resetAt: null,
    });
    for (const subscription of over) subscription.end(refusal);
  }

  private retry(keyId: number): void {
    this.retrying.add(keyId);
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const ids = new Set(this.retrying);
      this.retrying.clear();
      this.check(ids);
    }, RETRY_MS);
    this.retryTimer.unref();
  }
}

/** A subscription's results that the gateway can end early with a last error result. */
export interface EndableStream<T> extends AsyncIterableIterator<T | ExecutionResult> {
  /** Stops the source; `error` is the next (and last) result, then the stream is done. */
  end(error: GraphQLError): void;
}

/**
 * Wraps a subscription's result stream so that it can be ended from outside (see
 * `EndableStream`), also while the consumer waits for its next event.
 *
 * Hand-written rather than a `Repeater`: a repeater's executor starts only on the first
 * `next()` (so `end()` before it would need a second path), its `return()` waits for the
 * executor (which would have to race every source read against `stop`), and its `throw()`
 * throws into the executor, where this stream stops the source and rethrows to the caller.
 */
export function endable<T>(source: AsyncIterable<T>): EndableStream<T> {
  const iterator = source[Symbol.asyncIterator]();
  let last: ExecutionResult | undefined;
  let finished = false;
  let interrupt: (() => void) | undefined;
  const stop = async () => {
    finished = true;
    await iterator.return?.();
  };
  const stream: EndableStream<T> = {
    async next(): Promise<IteratorResult<T | ExecutionResult>> {
      if (last) {
        const value = last;
        last = undefined;
        return { value, done: false };
      }
      if (finished) return { value: undefined, done: true };
      const interrupted = new Promise<'ended'>((resolve) => {
        interrupt = () => resolve('ended');
      });
      const item = await Promise.race([iterator.next(), interrupted]);
      interrupt = undefined;
      if (item === 'ended') return stream.next();
      if (item.done) finished = true;
      return item;
    },
    async return() {
      last = undefined;
      if (!finished) await stop();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      last = undefined;
      if (!finished) await stop();
      throw error;
    },
    end(error) {
      if (finished) return;
      last = { errors: [error] };
      void stop().catch(() => {});
      interrupt?.();
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}

/**
 * The stream a transport reads, ended (its `return()` called) when `signal` aborts: an HTTP
 * client that goes away before its response started would otherwise leave its subscription,
 * its slot and its gauge open, since nothing reads or cancels that response's body.
 */
export function endOnAbort<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncIterable<T> {
  const iterator = source[Symbol.asyncIterator]();
  const end = () => void iterator.return?.().catch(() => {});
  if (signal.aborted) end();
  else signal.addEventListener('abort', end, { once: true });
  // The identity map: next, return and throw go to the source as they are; the last callback
  // runs once the stream is done (the source ended, or return() was called) and stops listening.
  return mapAsyncIterator(
    iterator,
    (value) => value,
    undefined,
    () => signal.removeEventListener('abort', end),
  );
}
