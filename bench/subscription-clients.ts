/**
 * A subscriber process of the subscription benchmark (forked by `subscriptions.ts`, one per
 * core's worth of subscribers): holds thousands of cheap subscribers so that the clients'
 * parsing is not counted against the gateway's process.
 *
 * - SSE: a raw `node:http` POST per subscriber (`accept: text/event-stream`, no agent: one
 *   socket each); frames are split on "\n\n" and only the event's `note` (`bench <n>`) and
 *   `eventCursor` are scanned for, never JSON-parsed.
 * - WebSocket: `ws` with the graphql-transport-ws protocol by hand (connection_init, subscribe,
 *   next, complete, error, ping/pong), one socket per subscriber.
 *
 * Receipt times are `performance.timeOrigin + performance.now()` (ms since the epoch, the same
 * clock the writer uses in the parent process), taken once per chunk read. Sockets are spread
 * over source addresses 127.0.0.2-127.0.0.51 so that tens of thousands of connections (and
 * their TIME_WAITs) do not run out of ephemeral ports.
 *
 * Commands arrive over IPC (`ClientCommand`); every command is answered with one `ClientReply`.
 */
import { request } from 'node:http';
import WebSocket from 'ws';

/** One subscriber to open: its cohort (index into the documents) and an optional `after`. */
export interface SubscriberSpec {
  cohort: number;
  after?: string | undefined;
}

/** A cohort's operation: the document and its variables (without `after`). */
export interface CohortDocument {
  query: string;
  variables: Record<string, unknown>;
}

/** What the parent asks. */
export type ClientCommand =
  | {
      type: 'open';
      url: string;
      transport: 'sse' | 'ws';
      documents: CohortDocument[];
      subscribers: SubscriberSpec[];
    }
  | { type: 'await'; note: number; count: number; timeoutMs: number }
  | { type: 'awaitOpen'; timeoutMs: number }
  | { type: 'reconnect'; on: boolean }
  | { type: 'report' }
  | { type: 'close' };

/** What one subscriber received: note numbers in arrival order and their receipt times. */
export interface SubscriberLog {
  notes: number[];
  times: number[];
}

/** Counters of reconnection (storm) attempts. */
export interface ReconnectCounts {
  /** Attempts made after a stream ended. */
  attempts: number;
  /** Attempts refused at the socket (ECONNREFUSED etc.: the gateway was down). */
  refused: number;
  /** Attempts the gateway answered with something else than a stream (status, errors). */
  failed: number;
  /** Attempts with no response (SSE) or no ack (WS) within `ATTEMPT_TIMEOUT_MS`: cut, retried. */
  timedOut: number;
  /** A few failure descriptions. */
  samples: string[];
}

/** The child's answers. */
export type ClientReply =
  | { type: 'opened'; failed: number; samples: string[] }
  | { type: 'awaited'; ok: boolean; got: number }
  | { type: 'report'; logs: SubscriberLog[]; reconnects: ReconnectCounts; lastOpenAt: number }
  | { type: 'closed' };

const now = () => performance.timeOrigin + performance.now();
/** How long an attempt may wait for its response (SSE) or ack (WS) before it is cut. */
const ATTEMPT_TIMEOUT_MS = 30_000;

/** Rejects with `TimeoutError` (no `code`) and runs `cut` if `promise` takes too long. */
function withTimeout(promise: Promise<void>, cut: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => {
      cut();
      reject(
        Object.assign(new Error(`no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s`), {
          timedOut: true,
        }),
      );
    }, ATTEMPT_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
const NOTE = '"note":"bench ';
const CURSOR = '"eventCursor":"';

/** Scans one SSE data payload or WS message for the note number and cursor. */
function scan(text: string, from: number): { note: number; cursor: string | undefined } | null {
  const at = text.indexOf(NOTE, from);
  if (at < 0) return null;
  let note = 0;
  for (let i = at + NOTE.length; i < text.length; i += 1) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    note = note * 10 + digit;
  }
  const c = text.indexOf(CURSOR, from);
  const cursor =
    c < 0 ? undefined : text.slice(c + CURSOR.length, text.indexOf('"', c + CURSOR.length));
  return { note, cursor };
}

class Subscriber {
  readonly log: SubscriberLog = { notes: [], times: [] };
  cursor: string | undefined;
  private isOpen = false;
  /** Failed attempts (errors, no answer) since the last event received: the backoff's step. */
  private failures = 0;
  private stop: (() => void) | undefined;
  private generation = 0;

  /** Whether the stream is open (kept in `state.open`, a count, for cheap waits). */
  get open(): boolean {
    return this.isOpen;
  }

  set open(value: boolean) {
    if (value !== this.isOpen) state.open += value ? 1 : -1;
    if (value) state.lastOpenAt = now();
    this.isOpen = value;
  }

  constructor(
    readonly index: number,
    readonly cohort: number,
    after: string | undefined,
  ) {
    this.cursor = after;
  }

  /** Opens the stream; resolves when it is open (SSE: 200; WS: subscribe sent after ack). */
  connect(): Promise<void> {
    const generation = ++this.generation;
    return state.transport === 'sse' ? this.connectSse(generation) : this.connectWs(generation);
  }

  private variables(): Record<string, unknown> {
    const document = state.documents[this.cohort] as CohortDocument;
    return this.cursor ? { ...document.variables, after: this.cursor } : document.variables;
  }

  private received(text: string, time: number) {
    const found = scan(text, 0);
    if (!found) {
      if (text.includes('"errors"')) this.ended(`errors: ${text.slice(0, 200)}`);
      return;
    }
    this.failures = 0;
    this.log.notes.push(found.note);
    this.log.times.push(time);
    if (found.cursor) this.cursor = found.cursor;
    state.counts.set(found.note, (state.counts.get(found.note) ?? 0) + 1);
    state.changed();
  }

  /** The stream ended (or failed): reconnect when asked to. */
  private ended(failure?: string) {
    if (!this.open && failure === undefined) return;
    this.open = false;
    this.stop?.();
    this.stop = undefined;
    if (failure !== undefined && state.reconnecting) {
      state.reconnects.failed += 1;
      this.failures += 1;
      if (state.reconnects.samples.length < 5) state.reconnects.samples.push(failure);
    }
    state.changed();
    if (state.reconnecting) this.retry();
  }

  /**
   * Schedules the next attempt: 100-200 ms after a stream ended or a refused connection (the
   * gateway is down); after `failures` answers that were errors or none at all, an exponential
   * backoff with jitter as real clients do (graphql-ws's own client, EventSource with `retry`):
   * 0.5 s x 2^(failures - 1), at most 8 s, times 0.5-1.5.
   */
  private retry() {
    const generation = this.generation;
    const delay =
      this.failures === 0
        ? 100 + Math.random() * 100
        : Math.min(8000, 500 * 2 ** (this.failures - 1)) * (0.5 + Math.random());
    setTimeout(() => {
      if (generation !== this.generation || this.open || !state.reconnecting) return;
      state.reconnects.attempts += 1;
      this.connect().catch((error: NodeJS.ErrnoException & { timedOut?: boolean }) => {
        if (error.timedOut) {
          state.reconnects.timedOut += 1;
          this.failures += 1;
        } else if (error.code) state.reconnects.refused += 1;
        else {
          state.reconnects.failed += 1;
          this.failures += 1;
          if (state.reconnects.samples.length < 5) state.reconnects.samples.push(error.message);
        }
        if (state.reconnecting) this.retry();
      });
    }, delay);
  }

  private connectSse(generation: number): Promise<void> {
    const url = new URL(state.url);
    const document = state.documents[this.cohort] as CohortDocument;
    const body = JSON.stringify({ query: document.query, variables: this.variables() });
    let cut = () => {};
    const attempt = new Promise<void>((resolve, reject) => {
      const req = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent: false,
        localAddress: `127.0.0.${2 + (this.index % 50)}`,
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          'content-length': Buffer.byteLength(body),
        },
      });
      cut = () => req.destroy();
      // From now on `close()` cuts this attempt too: one still waiting for its answer must not
      // open a stream after the subscriber was closed.
      this.stop = cut;
      req.on('error', (error) => {
        // A reset of an open stream (the gateway was killed) ends it like a close.
        if (!this.open) reject(error);
        else if (generation === this.generation) this.ended();
      });
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`SSE status ${res.statusCode}`));
          return;
        }
        this.open = true;
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          const time = now();
          buffer += chunk;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            // A frame's lines come in any order (events carry an `id:` line first).
            const kind = eventOf(frame);
            if (kind === 'next') this.received(frame, time);
            else if (kind === 'complete') this.ended();
            end = buffer.indexOf('\n\n');
          }
        });
        res.on('close', () => {
          if (generation === this.generation) this.ended();
        });
        resolve();
      });
      req.end(body);
    });
    return withTimeout(attempt, () => cut());
  }

  private connectWs(generation: number): Promise<void> {
    const socket = new WebSocket(state.url.replace(/^http/, 'ws'), 'graphql-transport-ws', {
      perMessageDeflate: false,
      localAddress: `127.0.0.${2 + (this.index % 50)}`,
    });
    // From now on `close()` cuts this attempt too (see `connectSse`).
    this.stop = () => socket.terminate();
    const attempt = new Promise<void>((resolve, reject) => {
      socket.on('error', (error) => {
        if (!this.open) reject(error);
      });
      socket.on('open', () => socket.send('{"type":"connection_init"}'));
      socket.on('message', (data: Buffer) => {
        const time = now();
        const text = data.toString();
        if (text.startsWith('{"type":"next"') || text.includes('"type":"next"')) {
          this.received(text, time);
          return;
        }
        const message = JSON.parse(text) as { type: string; payload?: unknown };
        if (message.type === 'connection_ack') {
          const document = state.documents[this.cohort] as CohortDocument;
          socket.send(
            JSON.stringify({
              id: '1',
              type: 'subscribe',
              payload: { query: document.query, variables: this.variables() },
            }),
          );
          this.open = true;
          resolve();
        } else if (message.type === 'ping') socket.send('{"type":"pong"}');
        else if (message.type === 'complete') this.ended();
        else if (message.type === 'error') this.ended(`error: ${text.slice(0, 200)}`);
      });
      socket.on('close', (code) => {
        if (!this.open) reject(new Error(`WebSocket closed before ack (${code})`));
        else if (generation === this.generation) this.ended();
      });
    });
    return withTimeout(attempt, () => socket.terminate());
  }

  close() {
    this.generation += 1;
    this.open = false;
    this.stop?.();
    this.stop = undefined;
  }
}

const state = {
  url: '',
  transport: 'sse' as 'sse' | 'ws',
  documents: [] as CohortDocument[],
  subscribers: [] as Subscriber[],
  open: 0,
  /** When a stream last opened (ms since the epoch). */
  lastOpenAt: 0,
  counts: new Map<number, number>(),
  reconnecting: false,
  reconnects: { attempts: 0, refused: 0, failed: 0, timedOut: 0, samples: [] } as ReconnectCounts,
  waiters: new Set<() => void>(),
  changed() {
    for (const waiter of this.waiters) waiter();
  },
};

const reply = (message: ClientReply) => process.send?.(message);

/** Resolves true once `check` holds, false after `timeoutMs`. */
function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  if (check()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const waiter = () => {
      if (!check()) return;
      state.waiters.delete(waiter);
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      state.waiters.delete(waiter);
      resolve(false);
    }, timeoutMs);
    state.waiters.add(waiter);
  });
}

async function open(command: Extract<ClientCommand, { type: 'open' }>) {
  state.url = command.url;
  state.transport = command.transport;
  state.documents = command.documents;
  state.open = 0;
  state.counts.clear();
  state.reconnecting = false;
  state.reconnects = { attempts: 0, refused: 0, failed: 0, timedOut: 0, samples: [] };
  state.subscribers = command.subscribers.map(
    (spec, index) => new Subscriber(index, spec.cohort, spec.after),
  );
  let failed = 0;
  const samples: string[] = [];
  // At most 100 handshakes in flight: a burst of thousands overflows the listen backlog.
  let next = 0;
  const worker = async () => {
    while (next < state.subscribers.length) {
      const subscriber = state.subscribers[next++] as Subscriber;
      await subscriber.connect().catch((error: Error) => {
        failed += 1;
        if (samples.length < 5) samples.push(error.message);
      });
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
  reply({ type: 'opened', failed, samples });
}

process.on('message', (command: ClientCommand) => {
  switch (command.type) {
    case 'open':
      void open(command);
      break;
    case 'await':
      void until(
        () => (state.counts.get(command.note) ?? 0) >= command.count,
        command.timeoutMs,
      ).then((ok) => reply({ type: 'awaited', ok, got: state.counts.get(command.note) ?? 0 }));
      break;
    case 'awaitOpen':
      void until(() => state.open === state.subscribers.length, command.timeoutMs).then((ok) =>
        reply({ type: 'awaited', ok, got: state.open }),
      );
      break;
    case 'reconnect':
      state.reconnecting = command.on;
      reply({ type: 'closed' });
      break;
    case 'report':
      reply({
        type: 'report',
        logs: state.subscribers.map((s) => s.log),
        reconnects: state.reconnects,
        lastOpenAt: state.lastOpenAt,
      });
      break;
    case 'close':
      state.reconnecting = false;
      for (const subscriber of state.subscribers) subscriber.close();
      state.subscribers = [];
      reply({ type: 'closed' });
      break;
  }
});
process.send?.({ type: 'ready' });

/** The `event:` field of an SSE frame (`next`, `complete`), wherever its line stands. */
function eventOf(frame: string): string | undefined {
  const at = frame.startsWith('event: ') ? 0 : frame.indexOf('\nevent: ') + 1;
  if (at === 0 && !frame.startsWith('event: ')) return undefined;
  const end = frame.indexOf('\n', at);
  return frame.slice(at + 7, end < 0 ? undefined : end);
}
