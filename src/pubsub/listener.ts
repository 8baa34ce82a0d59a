/**
 * The one LISTEN connection of a gateway instance on the `chipgate_events` channel.
 *
 * - PostgreSQL: a dedicated postgres.js connection (outside the query pool) that runs
 *   `LISTEN chipgate_events`. When it drops (server restart, `pg_terminate_backend`, network)
 *   it reconnects with exponential backoff and jitter, and calls `onConnect` after every
 *   successful LISTEN so the hub can read what it missed from the tables.
 *   postgres.js' own `sql.listen` re-listens after a drop too, but if that first retry fails
 *   (the server is still down) it drops the listener silently; supervising the connection
 *   here keeps retrying until the server is back.
 * - PGlite: `pglite.listen`, in-process; notifications of the process' own writes arrive after
 *   each statement, and the connection cannot drop.
 */
import postgres from 'postgres';
import { type DatabaseHandle, postgresOptions } from '../db/client.js';

/** The channel the event triggers notify on (see the `notify` migration). */
export const EVENTS_CHANNEL = 'chipgate_events';

import { CHANGES_CHANNEL } from '../db/changes.js';

export { CHANGES_CHANNEL };

const CHANNELS = [EVENTS_CHANNEL, CHANGES_CHANNEL];

/** Callbacks of a listener. */
export interface ListenerCallbacks {
  /**
   * A notification's payload and channel: on `EVENTS_CHANNEL` JSON text `{"table", "id", "seq"}`,
   * on `CHANGES_CHANNEL` `{"table", "op", "keys"}` or `{"table", "op", "all": true}`.
   */
  onNotify: (payload: string, channel: string) => void;
  /** LISTEN is in place (first time, and again after every reconnect). */
  onConnect: () => void;
  /** The connection dropped or a reconnect attempt failed; `retryInMs` until the next one. */
  onDisconnect: (error: unknown, retryInMs: number) => void;
}

/** A running listener. */
export interface EventListener {
  /** Whether LISTEN is currently in place. */
  readonly connected: boolean;
  /** Times LISTEN has been (re-)established since start. */
  readonly connections: number;
  /** Backend process id of the LISTEN session (PostgreSQL only; tests terminate it). */
  readonly backendPid: number | undefined;
  /** Stops listening and closes the connection. */
  close(): Promise<void>;
}

/** Reconnect delays: 100 ms doubling to at most 5 s, each with up to 50% random jitter. */
export function reconnectDelayMs(attempt: number): number {
  const base = Math.min(5_000, 100 * 2 ** Math.min(attempt, 10));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

/**
 * Starts listening. Resolves once the first LISTEN is in place (so no event committed after
 * that is missed); rejects if the first attempt fails, which makes start-up fail loudly
 * rather than serve subscriptions that never fire.
 */
export async function startListener(
  handle: DatabaseHandle,
  callbacks: ListenerCallbacks,
): Promise<EventListener> {
  if (handle.pglite) {
    const unlisteners = await Promise.all(
      CHANNELS.map((channel) =>
        handle.pglite?.listen(channel, (payload) => callbacks.onNotify(payload, channel)),
      ),
    );
    callbacks.onConnect();
    let connected = true;
    return {
      get connected() {
        return connected;
      },
      connections: 1,
      backendPid: undefined,
      async close() {
        connected = false;
        if (!handle.pglite?.closed) for (const unlisten of unlisteners) await unlisten?.();
      },
    };
  }
  // The session URL: a pooler in transaction mode would drop LISTEN between transactions.
  const url = handle.sessionUrl ?? handle.url;
  if (!url) throw new Error('startListener needs the PostgreSQL URL of the handle');
  return PostgresListener.start(url, callbacks);
}

class PostgresListener implements EventListener {
  connected = false;
  connections = 0;
  backendPid: number | undefined;
  private client: postgres.Sql | undefined;
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly url: string,
    private readonly callbacks: ListenerCallbacks,
  ) {}

  static async start(url: string, callbacks: ListenerCallbacks): Promise<PostgresListener> {
    const listener = new PostgresListener(url, callbacks);
    await listener.connect();
    return listener;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.connected = false;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end({ timeout: 1 });
  }

  /** One attempt: a fresh connection, LISTEN, and the pid for diagnostics. Throws on failure. */
  private async connect(): Promise<void> {
    const client = postgres(this.url, {
      ...postgresOptions(1),
      // A LISTEN session must stay open: no idle timeout, no lifetime rotation.
      idle_timeout: 0,
      max_lifetime: null,
      // It reads no arrays: no type query on each (re)connect, one round trip less in the window
      // where a terminated backend fails the attempt.
      fetch_types: false,
      connection: { application_name: 'chipgate-listen', TimeZone: 'UTC' },
      onnotify: (channel: string, payload: string) => {
        if (CHANNELS.includes(channel) && client === this.client) {
          this.callbacks.onNotify(payload, channel);
        }
      },
      onclose: () => {
        if (client === this.client) this.lost(client, new Error('LISTEN connection closed'));
      },
    } as postgres.Options<Record<string, never>>);
    try {
      const [row] = await client<{ pid: number }[]>`select pg_backend_pid() as pid`;
      for (const channel of CHANNELS) await client.unsafe(`listen ${channel}`);
      if (this.closed) {
        await client.end({ timeout: 1 });
        return;
      }
      this.client = client;
      this.backendPid = row?.pid;
      this.connected = true;
      this.attempt = 0;
      this.connections += 1;
      this.callbacks.onConnect();
    } catch (error) {
      await client.end({ timeout: 0 }).catch(() => {});
      throw error;
    }
  }

  private lost(client: postgres.Sql, error: unknown): void {
    this.client = undefined;
    this.connected = false;
    this.backendPid = undefined;
    void client.end({ timeout: 0 }).catch(() => {});
    this.scheduleReconnect(error);
  }

  private scheduleReconnect(error: unknown): void {
    if (this.closed) return;
    const delay = reconnectDelayMs(this.attempt++);
    this.callbacks.onDisconnect(error, delay);
    this.retryTimer = setTimeout(() => {
      this.connect().catch((failure: unknown) => this.scheduleReconnect(failure));
    }, delay);
    this.retryTimer.unref();
  }
}
