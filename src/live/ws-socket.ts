/**
 * graphql-ws' protocol server (`makeServer`) over `ws` sockets, in place of graphql-ws' own
 * `useServer` adapter, written for thousands of subscribers per instance (the WebSocket half of
 * what `src/live/sse.ts` does for SSE):
 *
 * - **One serialisation per cohort.** Subscribers of one cohort receive the same result object
 *   per event (`src/pubsub/shared-execution.ts`). Its JSON is built once (`resultJson`, which
 *   also applies the response size cap once); each subscriber's `next` message is that text
 *   with its own envelope (`{"id":…,"type":"next","payload":` … `}`) around it. The protocol
 *   server is handed a small marker payload (`Outbox.next`) and `Outbox.send` puts the cached
 *   text in the marker's place, so graphql-ws only ever stringifies the envelope.
 * - **Slow clients never slow the rest.** A message is handed to the socket and never awaited,
 *   so a subscription's loop never waits for its client. Before a `next`, a socket whose unsent
 *   bytes (`bufferedAmount`) are over `maxBufferedBytes` has that subscription dropped: it gets
 *   a final `next` with a `SLOW_CONSUMER` error whose `extensions.resumeAfter` is the cursor of
 *   the last event it was sent (resubscribe with `after:` it), then `complete`, and its
 *   iterator is stopped. If the socket is still over the bound `dropGraceMs` later, it is cut.
 * - **One heartbeat timer per instance** (`Heartbeat`): each beat pings every socket; a socket
 *   that did not answer the previous beat's ping is terminated (as `useServer` did with a timer
 *   per socket).
 *
 * Everything else is `useServer`'s: the subprotocol check, close codes, messages as strings.
 */
import type { IncomingMessage } from 'node:http';
import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import {
  CloseCode,
  handleProtocols,
  makeServer,
  type WebSocket as ProtocolSocket,
  type ServerOptions,
} from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Heartbeat } from './heartbeat.js';
import { eventSeqOf, resultJson, slowConsumerJson } from './results.js';

/** What the protocol server's hooks get as `ctx.extra` for each connection. */
export interface SocketExtra {
  /** The `ws` socket. */
  readonly socket: WebSocket;
  /** The HTTP upgrade request. */
  readonly request: IncomingMessage;
  /** Where `onNext` turns results into markers (see `Outbox.next`). */
  readonly outbox: Outbox;
}

/** Settings of the socket layer (see the README's configuration table). */
export interface SocketOptions {
  /** The instance's keep-alive timer: each beat pings every socket. */
  heartbeat: Heartbeat;
  /** Largest result JSON sent, in bytes (`CHIPGATE_MAX_RESPONSE_BYTES`). */
  maxResponseBytes: number;
  /**
   * Most unsent bytes a socket may hold when a `next` is due (`CHIPGATE_SSE_MAX_BUFFERED_BYTES`,
   * shared with SSE); past it that subscription is dropped with `SLOW_CONSUMER`.
   */
  maxBufferedBytes: number;
  /** How long a socket that had a subscription dropped may stay over the bound before it is cut, ms (default 10,000). */
  dropGraceMs?: number;
  /** Told about each dropped slow subscription, with the socket's unsent bytes at the time. */
  onDrop?: (bufferedBytes: number) => void;
  /** Told about an unexpected failure (a socket error, a throwing hook); logged by the app. */
  onError?: (error: unknown) => void;
  /** Whether close reasons hide error messages (default: `NODE_ENV === 'production'`). */
  isProd?: boolean;
}

/** The key of the marker payload `Outbox.next` returns; a client never sees it. */
const MARK_KEY = 'chipgate:payload';
/** The end of a `next` message carrying a marker, as graphql-ws stringifies it. */
const MARK_TAIL = /"type":"next","payload":\{"chipgate:payload":(\d+)\}\}$/;

/**
 * One connection's outgoing `next` messages: the cached result texts waiting for their
 * envelope, the cursor of the last event each subscription was sent, and the slow-consumer
 * bound. Created by `serveWebSocket`, one per socket.
 */
export class Outbox {
  /** Marker number → the payload text to put in its place (null: send nothing). */
  private readonly pending = new Map<number, string | null>();
  private counter = 0;
  /** Subscription id → `event_seq` of the last event sent to it. */
  private readonly lastSeq = new Map<string, number>();
  /** Subscriptions dropped as slow consumers (their later results are not sent). */
  private readonly dropped = new Set<string>();
  private cut: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly options: SocketOptions,
  ) {}

  /**
   * What `onNext` returns for `result` to subscription `id`: a marker that `send` replaces by
   * the result's JSON (built once per result object), or by the `SLOW_CONSUMER` error when the
   * socket is over the bound, in which case `iterator` (the subscription's, from
   * `ctx.subscriptions[id]`) is stopped so that the protocol server sends `complete` next.
   */
  next(id: string, result: ExecutionResult, iterator: unknown): FormattedExecutionResult {
    if (this.dropped.has(id)) return this.mark(null);
    const bytes = this.socket.bufferedAmount;
    if (bytes > this.options.maxBufferedBytes) return this.mark(this.drop(id, bytes, iterator));
    const seq = eventSeqOf(result);
    if (seq !== undefined) this.lastSeq.set(id, seq);
    return this.mark(resultJson(result, this.options.maxResponseBytes));
  }

  /** Forgets subscription `id` once it completed (ids may be reused afterwards). */
  forget(id: string): void {
    this.lastSeq.delete(id);
    this.dropped.delete(id);
  }

  /**
   * Writes a protocol message without waiting for it to leave: a `next` carrying a marker gets
   * its payload text put in; anything else goes as it is. Nothing is written on a closed socket.
   */
  send(data: string): void {
    let message: string | null = data;
    const marked = MARK_TAIL.exec(data);
    if (marked) {
      const key = Number(marked[1]);
      const text = this.pending.get(key);
      this.pending.delete(key);
      message =
        text == null ? null : `${data.slice(0, marked.index)}"type":"next","payload":${text}}`;
    }
    if (message === null || this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(message);
  }

  /** Called when the socket closed. */
  closed(): void {
    clearTimeout(this.cut);
    this.pending.clear();
  }

  private mark(text: string | null): FormattedExecutionResult {
    this.counter += 1;
    this.pending.set(this.counter, text);
    return { [MARK_KEY]: this.counter } as FormattedExecutionResult;
  }

  /** Drops slow subscription `id`; returns the payload text of its last `next`. */
  private drop(id: string, bytes: number, iterator: unknown): string {
    this.dropped.add(id);
    this.options.onDrop?.(bytes);
    const stop = (iterator as AsyncIterator<unknown> | null | undefined)?.return;
    if (stop) void Promise.resolve(stop.call(iterator)).catch(() => {});
    if (!this.cut) {
      const { socket, options } = this;
      this.cut = setTimeout(() => {
        this.cut = undefined;
        if (socket.bufferedAmount > options.maxBufferedBytes) socket.terminate();
      }, options.dropGraceMs ?? 10_000);
      this.cut.unref();
    }
    return slowConsumerJson(this.lastSeq.get(id), `${bytes} bytes were waiting on its connection`);
  }
}

/** Serving graphql-ws on a `WebSocketServer`; `dispose()` closes every socket (1001) and stops. */
export interface ServedWebSocket {
  dispose(): Promise<void>;
}

/**
 * Runs graphql-ws' protocol server (`makeServer(protocol)`) on every connection of `wss`; see
 * the module comment. The hooks in `protocol` get a `SocketExtra` as `ctx.extra`; their
 * `onNext` should return `ctx.extra.outbox.next(id, result, ctx.subscriptions[id])`.
 */
export function serveWebSocket(
  wss: WebSocketServer,
  protocol: ServerOptions<Record<string, unknown> | undefined, SocketExtra>,
  options: SocketOptions,
): ServedWebSocket {
  const isProd = options.isProd ?? process.env.NODE_ENV === 'production';
  const report = options.onError ?? ((error: unknown) => console.error(error));
  /** A close reason for `error`: its message outside production (if short enough). */
  const reasonOf = (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    return isProd || message.length >= 124 ? 'Internal server error' : message;
  };
  const server = makeServer(protocol);
  wss.options.handleProtocols = handleProtocols;
  wss.once('error', (error) => {
    report(error);
    for (const client of wss.clients) {
      try {
        client.close(CloseCode.InternalServerError, reasonOf(error));
      } catch {}
    }
  });
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.once('error', (error) => {
      report(error);
      socket.close(CloseCode.InternalServerError, reasonOf(error));
    });
    let answered = true;
    socket.on('pong', () => {
      answered = true;
    });
    const stopBeat = options.heartbeat.add(() => {
      if (socket.readyState !== socket.OPEN) return;
      if (!answered) {
        socket.terminate();
        return;
      }
      answered = false;
      socket.ping();
    });
    const outbox = new Outbox(socket, options);
    const adapter: ProtocolSocket = {
      protocol: socket.protocol,
      send: (data) => outbox.send(data),
      close: (code, reason) => socket.close(code, reason),
      onMessage: (handle) => {
        socket.on('message', async (data) => {
          try {
            await handle(String(data));
          } catch (error) {
            report(error);
            socket.close(CloseCode.InternalServerError, reasonOf(error));
          }
        });
      },
    };
    const closed = server.opened(adapter, { socket, request, outbox });
    socket.once('close', (code, reason) => {
      stopBeat();
      outbox.closed();
      closed(code, String(reason)).catch(report);
    });
  });
  return {
    async dispose() {
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => {
        wss.close((error) => (error ? reject(error) : resolve()));
      });
    },
  };
}
