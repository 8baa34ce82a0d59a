/**
 * The `sync_runs` table: a scheduled run claims its cron slot here before it starts, and
 * records how it ended. The claim is what makes a slot run once across instances, whatever
 * the job queue delivers: a slot is claimed by the first worker, and again only once its run
 * failed (a retry) or its worker has gone silent for longer than `staleAfterSeconds` (crashed).
 * Runs of one source never overlap.
 */
import { and, desc, eq, ne, sql } from 'drizzle-orm';
import type { Database } from './client.js';
import { syncRuns } from './schema.js';

/** A row of `sync_runs`, as `listSyncRuns` reads it. */
export type SyncRun = typeof syncRuns.$inferSelect;

/** What a finished run writes to its row (counts are documents). */
export interface SyncRunOutcome {
  state: 'succeeded' | 'failed';
  total: number;
  created: number;
  linked: number;
  updated: number;
  unchanged: number;
  failedDocuments: number;
  /** Why the run failed (no SQL, no stack: a message for operators). */
  error?: string | undefined;
}

/** A slot to claim. */
export interface SyncClaim {
  source: string;
  slot: Date;
  /** `host:pid` of the claiming instance. */
  instance: string;
  /** First publication date (`YYYY-MM-DD`) the run re-reads. */
  since: string;
  /** A `running` row older than this is taken over (its worker is presumed dead). */
  staleAfterSeconds: number;
}

/** Serialises claims (transaction-scoped, so it is safe behind a transaction-mode pooler). */
const CLAIM_LOCK = 720430002;

/**
 * Claims a slot: inserts its row as `running`, or takes over a `failed` or stale `running` one
 * (attempts + 1). Returns the attempt number, or null when the slot is taken (already
 * succeeded, or running elsewhere) or when another slot of the source is still running: runs
 * never overlap (the ticker sends the slot again while it is the latest one). Claims are
 * serialised by a transaction-level advisory lock, so two workers cannot both win.
 */
export async function claimSyncSlot(db: Database, claim: SyncClaim): Promise<number | null> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${CLAIM_LOCK})`);
    const fresh = sql`${syncRuns.startedAt} >= now() - make_interval(secs => ${claim.staleAfterSeconds})`;
    const busy = await tx
      .select({ slot: syncRuns.slot })
      .from(syncRuns)
      .where(
        and(
          eq(syncRuns.source, claim.source),
          ne(syncRuns.slot, claim.slot),
          eq(syncRuns.state, 'running'),
          fresh,
        ),
      )
      .limit(1);
    if (busy.length > 0) return null;
    const rows = await tx
      .insert(syncRuns)
      .values({
        source: claim.source,
        slot: claim.slot,
        state: 'running',
        instance: claim.instance,
        since: claim.since,
      })
      .onConflictDoUpdate({
        target: [syncRuns.source, syncRuns.slot],
        set: {
          state: 'running',
          attempts: sql`${syncRuns.attempts} + 1`,
          instance: claim.instance,
          since: claim.since,
          startedAt: sql`now()`,
          finishedAt: null,
          error: null,
        },
        setWhere: sql`${syncRuns.state} = 'failed' or (${syncRuns.state} = 'running' and not (${fresh}))`,
      })
      .returning({ attempts: syncRuns.attempts });
    return rows[0]?.attempts ?? null;
  });
}

/** Records how the run of a claimed slot ended. */
export async function finishSyncRun(
  db: Database,
  source: string,
  slot: Date,
  outcome: SyncRunOutcome,
): Promise<void> {
  await db
    .update(syncRuns)
    .set({
      state: outcome.state,
      finishedAt: sql`now()`,
      total: outcome.total,
      created: outcome.created,
      linked: outcome.linked,
      updated: outcome.updated,
      unchanged: outcome.unchanged,
      failedDocuments: outcome.failedDocuments,
      error: outcome.error ?? null,
    })
    .where(and(eq(syncRuns.source, source), eq(syncRuns.slot, slot)));
}

/** True when the slot has a row (claimed, whatever its state): nothing to schedule. */
export async function syncSlotSeen(db: Database, source: string, slot: Date): Promise<boolean> {
  const rows = await db
    .select({ state: syncRuns.state })
    .from(syncRuns)
    .where(and(eq(syncRuns.source, source), eq(syncRuns.slot, slot)));
  return rows.length > 0;
}

/** The latest `limit` runs of `source`, newest slot first. */
export async function listSyncRuns(db: Database, source: string, limit = 10): Promise<SyncRun[]> {
  return db
    .select()
    .from(syncRuns)
    .where(eq(syncRuns.source, source))
    .orderBy(desc(syncRuns.slot))
    .limit(limit);
}
