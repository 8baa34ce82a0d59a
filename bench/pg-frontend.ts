/**
 * Counts the SQL statements a client sends to PostgreSQL, at the wire: a TCP proxy in front of
 * the server that reads the frontend protocol's message headers (never the payloads' meaning).
 * A statement is one `Execute` message (extended protocol: postgres.js runs every statement so)
 * or one `Query` message (simple protocol, e.g. BEGIN/COMMIT or LISTEN). Used by the
 * subscription benchmark because `pg_stat_statements` needs `shared_preload_libraries`, which
 * the bench's server cannot be assumed to have.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** SSLRequest and GSSENCRequest codes: a startup-phase message after which another follows. */
const NEGOTIATION_CODES = new Set([80877103, 80877104]);

/** Message counts of one or more connections, by type byte (e.g. `E`: 3). */
export type MessageCounts = Record<string, number>;

/**
 * Splits one connection's client-to-server bytes into messages and counts them by type. The
 * first message (and any after an SSL/GSS negotiation request) has no type byte: it is the
 * startup message and is not counted.
 */
export class FrontendCounter {
  private startup = true;
  private header = Buffer.alloc(0);
  private skip = 0;

  constructor(private readonly counts: MessageCounts) {}

  /** Feeds the next bytes the client sent. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const taken = Math.min(this.skip, chunk.length - at);
        this.skip -= taken;
        at += taken;
        continue;
      }
      const headerLength = this.startup ? 8 : 5;
      const need = headerLength - this.header.length;
      const piece = chunk.subarray(at, at + need);
      this.header = Buffer.concat([this.header, piece]);
      at += piece.length;
      if (this.header.length < headerLength) return;
      if (this.startup) {
        const length = this.header.readInt32BE(0);
        const code = this.header.readInt32BE(4);
        if (!NEGOTIATION_CODES.has(code)) this.startup = false;
        this.skip = length - 8;
      } else {
        const type = String.fromCharCode(this.header[0] as number);
        this.counts[type] = (this.counts[type] ?? 0) + 1;
        this.skip = this.header.readInt32BE(1) - 4;
      }
      this.header = Buffer.alloc(0);
    }
  }
}

/** Statements in `counts`: `Execute` plus simple `Query` messages. */
export function statementsIn(counts: MessageCounts): number {
  return (counts.E ?? 0) + (counts.Q ?? 0);
}

/** A running counting proxy. */
export interface CountingProxy {
  /** The port it listens on, 127.0.0.1. */
  port: number;
  /** Messages counted over all connections so far. */
  counts: MessageCounts;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 that forwards to `host:port` and counts what clients send. */
export async function startCountingProxy(host: string, port: number): Promise<CountingProxy> {
  const counts: MessageCounts = {};
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    const counter = new FrontendCounter(counts);
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      counter.push(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    counts,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
