/**
 * Graceful shutdown of the gateway as a process (`node --import tsx src/server.ts`): a request
 * in flight finishes, idle keep-alive connections close at once, a client that never finishes
 * its request cannot hold the shutdown past the timeout, a second signal exits at once. Raw
 * HTTP/1.1 connections on 127.0.0.1 show exactly what comes back.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DELIBERATION } from './helpers/queries.js';
import {
  gatewayDatabase,
  killChildren,
  messages,
  removeTempDirs,
  startChildGateway,
} from './helpers/server.js';

// Every test here starts a gateway process; each has its own deadlines for what it waits on.
vi.setConfig({ testTimeout: 120_000 });

afterAll(async () => {
  await killChildren();
  removeTempDirs();
});

/** A response read off a raw connection. */
interface RawResponse {
  status: number;
  /** The header block, one `name: value` per line. */
  head: string;
  body: string;
}

/** A raw HTTP/1.1 connection, to hold a request half-sent and see exactly what comes back. */
class RawConnection {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  private received = '';
  private readonly waiters = new Set<() => void>();

  constructor(origin: string) {
    const url = new URL(origin);
    this.socket = connect(Number(url.port), url.hostname);
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      this.received += chunk;
      this.notify();
    });
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    void this.closed.then(() => this.notify());
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Everything received so far. */
  get text(): string {
    return this.received;
  }

  /** Waits until `read` finds something in the received text; rejects on close or timeout. */
  waitFor<T>(what: string, read: (text: string) => T | undefined, timeoutMs = 15_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${what} within ${timeoutMs} ms; received: ${this.received}`));
      }, timeoutMs);
      const check = () => {
        const found = read(this.received);
        if (found === undefined && !this.socket.destroyed) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        if (found !== undefined) resolve(found);
        else reject(new Error(`connection closed before ${what}; received: ${this.received}`));
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for the interim "100 Continue": the server parsed the headers and runs the request. */
  continued(): Promise<true> {
    return this.waitFor('100 Continue', (text) =>
      text.startsWith('HTTP/1.1 100 Continue\r\n\r\n') ? true : undefined,
    );
  }

  /** Waits for the first complete final response (with a Content-Length body). */
  response(): Promise<RawResponse> {
    return this.waitFor('a complete response', (text) => {
      const match = /HTTP\/1\.1 ([2-5]\d\d) [^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(text);
      if (!match) return undefined;
      const [whole, status, head = ''] = match;
      const length = Number(/^content-length: *(\d+)$/im.exec(head)?.[1] ?? Number.NaN);
      const body = text.slice(match.index + whole.length);
      if (!(Buffer.byteLength(body) >= length)) return undefined;
      return { status: Number(status), head, body };
    });
  }
}

function requestHead(origin: string, body: string, extra = ''): string {
  const host = new URL(origin).host;
  return (
    `POST /graphql HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n${extra}\r\n`
  );
}

describe('graceful shutdown', () => {
  it('SIGTERM lets a request in flight finish, then closes its connection and exits 0', async () => {
    const database = await gatewayDatabase();
    const gateway = await startChildGateway({
      ...database.env,
      CHIPGATE_SHUTDOWN_TIMEOUT_MS: '30000',
    });
    const connection = new RawConnection(gateway.origin);
    const body = JSON.stringify({ query: DELIBERATION });
    // "Expect: 100-continue": the server answers "100 Continue" once it parsed the headers
    // and handed the request to the app, which then waits for the body: a request in flight.
    connection.socket.write(requestHead(gateway.origin, body, 'Expect: 100-continue\r\n'));
    await connection.continued();

    gateway.child.kill('SIGTERM');
    await gateway.waitForLog('shutting down');
    // The listening socket is closed: a new connection is refused while the request finishes.
    const refused = await fetch(gateway.url, { signal: AbortSignal.timeout(10_000) }).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
    expect(gateway.child.exitCode).toBeNull();

    connection.socket.write(body);
    const response = await connection.response();
    expect(response.status).toBe(200);
    expect(response.head).toMatch(/^connection: close$/im);
    expect(JSON.parse(response.body).data.policyDecision.updates).toHaveLength(2);
    await connection.closed;
    expect(await gateway.waitForExit()).toEqual({ code: 0, signal: null });
    expect(messages(gateway).at(-1)).toBe('stopped cleanly');
    expect(messages(gateway)).not.toContain(
      'shutdown timeout: closing connections with requests in flight',
    );
    await database.cleanup();
  });

  it('SIGTERM closes idle keep-alive connections at once', async () => {
    const database = await gatewayDatabase();
    // A long shutdown timeout: an exit now proves the idle connection did not hold it up.
    const gateway = await startChildGateway({
      ...database.env,
      CHIPGATE_SHUTDOWN_TIMEOUT_MS: '600000',
    });
    const connection = new RawConnection(gateway.origin);
    const body = JSON.stringify({ query: '{ company(slug: "nvidia") { name } }' });
    connection.socket.write(requestHead(gateway.origin, body) + body);
    const response = await connection.response();
    expect(JSON.parse(response.body)).toEqual({
      data: { company: { name: 'NVIDIA Corporation' } },
    });
    expect(response.head).toMatch(/^connection: keep-alive$/im);
    expect(connection.socket.destroyed).toBe(false);

    gateway.child.kill('SIGTERM');
    await connection.closed;
    expect(await gateway.waitForExit()).toEqual({ code: 0, signal: null });
    expect(messages(gateway).at(-1)).toBe('stopped cleanly');
    await database.cleanup();
  });

  it('a client that never finishes its request cannot hold the shutdown past the timeout', async () => {
    const database = await gatewayDatabase();
    const gateway = await startChildGateway({
      ...database.env,
      CHIPGATE_SHUTDOWN_TIMEOUT_MS: '500',
    });
    const connection = new RawConnection(gateway.origin);
    connection.socket.write(
      requestHead(gateway.origin, '{"query":"{ __typename }"}', 'Expect: 100-continue\r\n'),
    );
    await connection.continued();
    gateway.child.kill('SIGTERM');
    await connection.closed;
    expect(await gateway.waitForExit()).toEqual({ code: 0, signal: null });
    const timeout = gateway.logs.find((line) => line.msg.startsWith('shutdown timeout'));
    expect(timeout?.inFlight).toBe(1);
    expect(messages(gateway).at(-1)).toBe('stopped cleanly');
    await database.cleanup();
  });

  it('a second signal during a stuck shutdown exits at once with 130', async () => {
    const database = await gatewayDatabase();
    const gateway = await startChildGateway({
      ...database.env,
      CHIPGATE_SHUTDOWN_TIMEOUT_MS: '600000',
    });
    const connection = new RawConnection(gateway.origin);
    connection.socket.write(
      requestHead(gateway.origin, '{"query":"{ __typename }"}', 'Expect: 100-continue\r\n'),
    );
    await connection.continued();
    gateway.child.kill('SIGTERM');
    await gateway.waitForLog('shutting down');
    gateway.child.kill('SIGINT');
    expect(await gateway.waitForExit()).toEqual({ code: 130, signal: null });
    expect(messages(gateway).at(-1)).toBe('second signal: exiting now');
    await connection.closed;
    await database.cleanup();
  });
});
