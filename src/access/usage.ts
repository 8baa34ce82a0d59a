/**
 * Usage per API key, counted in memory and added to `api_key_usage` about once a minute
 * (`CHIPGATE_USAGE_FLUSH_S`) and at shutdown: never a write per request. A flush that fails
 * keeps its counts for the next one. The counts of a key deleted before they were flushed are
 * dropped (logged once per key), and everyone else's are written.
 */
import type { Database } from '../db/client.js';
import { addUsage, type UsageRow } from '../db/usage.js';

/** The logger shape used here (pino satisfies it). */
export interface UsageLogger {
  warn: (object: object, message: string) => void;
}

/** What to add for a key. */
export interface UsageDelta {
  requests?: number;
  cost?: number;
  errors?: number;
}

/** Per-key, per-day counters waiting for the next flush. */
export class UsageRecorder {
  private pending = new Map<string, UsageRow>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Keys found deleted at a flush: whatever is still counted for them is dropped unlogged. */
  private readonly deleted = new Set<number>();

  constructor(
    private readonly db: Database,
    private readonly clock: () => number,
    private readonly logger?: UsageLogger,
  ) {}

  /** Adds `delta` to key `apiKeyId`'s counts of today (UTC, by the injected clock). */
  record(apiKeyId: number, delta: UsageDelta): void {
    if (this.deleted.has(apiKeyId)) return;
    const day = new Date(this.clock()).toISOString().slice(0, 10);
    this.add({ apiKeyId, day, requests: 0, cost: 0, errors: 0, ...delta });
  }

  private add(row: UsageRow): void {
    const id = `${row.apiKeyId}|${row.day}`;
    const current = this.pending.get(id);
    if (!current) {
      this.pending.set(id, { ...row });
      return;
    }
    current.requests += row.requests;
    current.cost += row.cost;
    current.errors += row.errors;
  }

  /** Writes what was counted since the last flush (one statement); resolves when stored. */
  flush(): Promise<void> {
    const previous = this.flushing ?? Promise.resolve();
    const next = previous.then(() => this.flushNow());
    this.flushing = next;
    return next;
  }

  private async flushNow(): Promise<void> {
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    this.pending = new Map();
    try {
      const dropped = await addUsage(this.db, rows);
      for (const id of dropped) this.deleted.add(id);
      if (dropped.length > 0) {
        this.logger?.warn({ apiKeyIds: dropped }, 'usage of deleted API keys dropped');
      }
    } catch (error) {
      for (const row of rows) this.add(row);
      this.logger?.warn({ err: error }, 'could not store API key usage; will retry');
    }
  }

  /** Flushes every `seconds` (the timer does not keep the process alive). */
  start(seconds: number): void {
    this.timer = setInterval(() => void this.flush(), seconds * 1000);
    this.timer.unref();
  }

  /** Stops the timer and flushes what is left. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
