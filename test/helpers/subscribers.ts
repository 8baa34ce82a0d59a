/**
 * Real subscription clients for transport tests: Server-Sent Events over `fetch` (yoga's
 * GraphQL-over-SSE "distinct connections" format: `event: next` / `event: complete`) and the
 * `graphql-transport-ws` protocol through graphql-ws' own client on `ws`.
 *
 * Both collect what arrives and let a test await "n results" or "the stream ended" instead of
 * sleeping; each wait fails after a timeout with what did arrive.
 */
import type { ExecutionResult } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

/** A running subscription from a test's point of view. */
export interface TestSubscription {
  /** Results received so far, in order. */
  readonly results: ExecutionResult<any>[];
  /** Whether the stream ended (for any reason). */
  readonly completed: boolean;
  /** Whether it ended with the protocol's own "complete" message (not a dropped connection). */
  readonly completedCleanly: boolean;
  /**
   * Why it ended, if it failed: for graphql-ws, the errors of an `error` message (an array of
   * GraphQL errors) or the close event.
   */
  readonly failure: unknown;
  /** Resolves when at least `count` results arrived. */
  waitForResults(count: number, timeoutMs?: number): Promise<ExecutionResult<any>[]>;
  /** Resolves when the server ended the stream. */
  waitForComplete(timeoutMs?: number): Promise<void>;
  /** Ends the subscription from the client side (disconnects). */
  close(): Promise<void>;
}

class Collector {
  readonly results: ExecutionResult<any>[] = [];
  completed = false;
  completedCleanly = false;
  failure: unknown;
  private readonly listeners = new Set<() => void>();

  push(result: ExecutionResult<any>) {
    this.results.push(result);
    this.notify();
  }

  complete(failure?: unknown) {
    this.completed = true;
    this.failure ??= failure;
    this.notify();
  }

  waitFor<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.results)}` +
              (this.completed ? ' (stream completed)' : '') +
              (this.failure ? ` failure: ${String(this.failure)}` : ''),
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(attempt);
      };
      this.listeners.add(attempt);
      attempt();
    });
  }

  subscription(close: () => Promise<void>): TestSubscription {
    const collector = this;
    return {
      results: this.results,
      get completed() {
        return collector.completed;
      },
      get completedCleanly() {
        return collector.completedCleanly;
      },
      get failure() {
        return collector.failure;
      },
      waitForResults: (count, timeoutMs = 10_000) =>
        this.waitFor(
          `${count} results`,
          () => (this.results.length >= count ? this.results.slice(0, count) : undefined),
          timeoutMs,
        ),
      waitForComplete: (timeoutMs = 10_000) =>
        this.waitFor(
          'the stream to complete',
          () => (this.completed ? true : undefined),
          timeoutMs,
        ).then(() => {}),
      close,
    };
  }

  private notify() {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Subscribes over SSE: `POST url` with `accept: text/event-stream`, sending the query text or a
 * trusted document's id. Resolves once the response headers arrived (the subscription is
 * registered on the server by then or moments later).
 */
export async function subscribeSse(
  url: string,
  query: string | { documentId: string },
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<TestSubscription & { status: number }> {
  const collector = new Collector();
  const abort = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ ...(typeof query === 'string' ? { query } : query), variables }),
    signal: abort.signal,
  });
  const reading = (async () => {
    if (!response.body) return collector.complete();
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (event === 'complete') {
          collector.completedCleanly = true;
          collector.complete();
        } else if (data) collector.push(JSON.parse(data) as ExecutionResult);
        end = buffer.indexOf('\n\n');
      }
    }
    collector.complete();
  })().catch((error: unknown) => collector.complete(error));
  const subscription = collector.subscription(async () => {
    abort.abort();
    await reading;
  });
  return Object.assign(subscription, { status: response.status });
}

/** A graphql-ws client for `url` (`http://…/graphql` becomes `ws://…/graphql`). */
export function wsClient(
  url: string,
  connectionParams?: Record<string, unknown>,
): Client & { closed: Promise<{ code: number; reason: string }> } {
  let onClosed: (event: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    onClosed = resolve;
  });
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    // Tests read the close event through `closed`; the default prints it to the console.
    onNonLazyError: () => {},
    ...(connectionParams ? { connectionParams } : {}),
    on: {
      closed: (event) => onClosed(event as { code: number; reason: string }),
    },
  });
  return Object.assign(client, { closed });
}

/** Subscribes through a graphql-ws client. */
export function subscribeWs(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): TestSubscription {
  const collector = new Collector();
  const unsubscribe = client.subscribe(
    { query, variables },
    {
      next: (result) => collector.push(result as ExecutionResult),
      error: (error) => collector.complete(error),
      complete: () => {
        collector.completedCleanly = true;
        collector.complete();
      },
    },
  );
  return collector.subscription(async () => unsubscribe());
}
