/**
 * A TCP proxy on 127.0.0.1 in front of a server, for tests that cut a client's connections at a
 * chosen moment (as a pooler, a load balancer or a network failure does), with a FIN or a RST,
 * while the server itself stays up.
 */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/** How a cut reaches the client: `fin` closes its socket cleanly, `rst` resets it. */
export type CutMode = 'fin' | 'rst';

/** A running proxy. */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** Client connections open now. */
  open(): number;
  /** Resolves once some client sends bytes containing `text` (counted from this call on). */
  sawClientSend(text: string): Promise<void>;
  /**
   * Holds the next chunk a client sends that contains `text` (from this call on): the server
   * never gets it, and that client's later bytes are held too, so its statement stays unanswered
   * while the test acts on the server session. Resolves once a chunk has been held.
   */
  holdClientSend(text: string): Promise<void>;
  /** Sends what `holdClientSend` held on to the server, and forwards as before from then on. */
  releaseHeld(): void;
  /** Cuts every open connection: the client side as `mode` says, the server side at once. */
  cut(mode: CutMode): void;
  /** Cuts everything and stops listening. */
  close(): Promise<void>;
}

/** Starts a proxy that forwards each connection to `target` (`host`, `port`). */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  /** A client's connection and the proxy's to the server, with the client bytes held back. */
  type Pair = { client: Socket; server: Socket; held: Buffer[] | undefined };
  const pairs = new Set<Pair>();
  const waiters = new Set<{ text: string; seen: string; resolve: () => void }>();
  const holds = new Set<{ text: string; resolve: () => void }>();
  const listener = createServer((client) => {
    const server = connect(target.port, target.host);
    const pair: Pair = { client, server, held: undefined };
    pairs.add(pair);
    // Errors end the pair; a cut test expects them on both sides.
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('error', drop).on('close', drop);
    server.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => {
      // Protocol bytes as latin1: the texts waited for are ASCII, and any byte maps to one char.
      const text = chunk.toString('latin1');
      for (const hold of [...holds]) {
        if (pair.held || !text.includes(hold.text)) continue;
        holds.delete(hold);
        pair.held = [];
        hold.resolve();
      }
      for (const waiter of [...waiters]) {
        waiter.seen += text;
        if (waiter.seen.includes(waiter.text)) {
          waiters.delete(waiter);
          waiter.resolve();
        }
      }
      // Written by hand, not piped: a held chunk must not reach the server.
      if (pair.held) pair.held.push(chunk);
      else if (!server.destroyed) server.write(chunk);
    });
    server.pipe(client);
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const cut = (mode: CutMode) => {
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      pair.server.unpipe(pair.client);
      pair.server.destroy();
      if (mode === 'rst') pair.client.resetAndDestroy();
      else pair.client.end();
    }
  };
  return {
    port: (listener.address() as AddressInfo).port,
    open: () => pairs.size,
    sawClientSend: (text) =>
      new Promise<void>((resolve) => waiters.add({ text, seen: '', resolve })),
    holdClientSend: (text) => new Promise<void>((resolve) => holds.add({ text, resolve })),
    releaseHeld() {
      for (const pair of pairs) {
        const held = pair.held ?? [];
        pair.held = undefined;
        for (const chunk of held) if (!pair.server.destroyed) pair.server.write(chunk);
      }
    },
    cut,
    async close() {
      cut('fin');
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}
