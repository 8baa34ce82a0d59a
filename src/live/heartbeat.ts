/**
 * One keep-alive timer per gateway instance, not one per connection.
 *
 * Long-lived streams (SSE responses, graphql-ws sockets) must send something now and then, or
 * proxies and load balancers close them as idle. A timer per connection costs a timer object,
 * a closure and a wake-up per connection; at 10,000 subscribers that is 10,000 wake-ups
 * spread over every interval. Here each connection registers a beat function with the
 * instance's `Heartbeat`, and a single `setInterval` calls them all, in one pass.
 */

/** A registered connection's beat; return nothing. Throwing is caught and the beat removed. */
export type Beat = () => void;

/** See the module comment. `stop()` ends the timer (at shutdown). */
export class Heartbeat {
  private readonly beats = new Set<Beat>();
  private timer: NodeJS.Timeout | undefined;

  /** @param intervalMs Time between two beats of every connection, in ms (e.g. 12,000). */
  constructor(readonly intervalMs: number) {}

  /** Registers a connection's beat; returns the function that unregisters it. */
  add(beat: Beat): () => void {
    this.beats.add(beat);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      // A heartbeat alone never keeps the process alive.
      this.timer.unref();
    }
    return () => {
      this.beats.delete(beat);
    };
  }

  /** Connections registered. */
  get size(): number {
    return this.beats.size;
  }

  /** Stops the timer; beats registered later start it again. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    for (const beat of this.beats) {
      try {
        beat();
      } catch {
        this.beats.delete(beat);
      }
    }
  }
}
