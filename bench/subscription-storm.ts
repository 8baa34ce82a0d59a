/**
 * The reconnect storm of the subscription benchmark: N subscribers hold (each opened with
 * `after:` the newest eventCursor, so each has a cursor to resume from even before its first
 * event); the gateway is stopped (graceful: `gateway.stop()`, subscriptions end with
 * `complete`; kill: SIGKILL, sockets reset); while it is down the writer commits events that
 * together reach every cohort (at least 2); the gateway is started again on the same port,
 * connected to PostgreSQL through the statement-counting proxy (`pg-frontend.ts`); every
 * subscriber reconnects on its own (100-200 ms after its stream ended or a refused connection;
 * after errors or attempts unanswered for 30 s, backing off exponentially up to 8 s), with
 * `after:` its last eventCursor, and must receive its cohort's missed events exactly once, in
 * order.
 */
import { encodeEventCursor } from '../src/codecs.js';
import { num } from './report.js';
import { assertExact, type Cohort, checkDeliveries } from './subscription-cohorts.js';
import {
  type BenchContext,
  clock,
  SubscriptionTarget,
  type WriterDecision,
} from './subscription-harness.js';

/**
 * Whether the restarted gateway counts its statements (`BENCH_STORM_STATEMENTS`, default 1):
 * the counting proxy shares the gateway's event loop, so `0` shows the catch-up without it.
 */
export const COUNT_STORM_STATEMENTS = process.env.BENCH_STORM_STATEMENTS?.trim() !== '0';

/** How long every subscriber may take to be open again, and each missed event to arrive. */
const STORM_TIMEOUT_MS = 120_000;

/** How the gateway goes down. */
export type StormMode = 'graceful' | 'kill';

/** Columns of a storm row. */
export const STORM_HEADER = [
  'transport',
  'mode',
  'subscribers',
  'missed events',
  'stop -> ready s',
  'ready -> all open s',
  'ready -> caught up s',
  'attempts',
  'refused (down)',
  'failures',
  'timed out',
  'gw errors logged',
  'statements at start',
  'statements in storm',
  'per reconnect',
];

/**
 * Decisions whose changes together reach every cohort (greedy: the one reaching the most
 * cohorts not yet reached first), at least two.
 */
export function coverDecisions(
  decisions: readonly WriterDecision[],
  cohorts: readonly Cohort[],
): WriterDecision[] {
  const left = new Set(cohorts.map((c) => c.chip));
  const chosen: WriterDecision[] = [];
  const gain = (d: WriterDecision) => [...d.chips].filter((c) => left.has(c)).length;
  while (left.size > 0 || chosen.length < 2) {
    const candidates = decisions.filter((d) => !chosen.includes(d));
    const best = candidates.reduce<WriterDecision | undefined>(
      (a, d) => (a === undefined || gain(d) > gain(a) ? d : a),
      undefined,
    );
    if (!best || (left.size > 0 && gain(best) === 0)) break;
    chosen.push(best);
    for (const chip of best.chips) left.delete(chip);
  }
  return chosen;
}

/** A storm's outcome. */
export interface StormResult {
  /** Its row (see `STORM_HEADER`); "FAILED" in the catch-up column when it never caught up. */
  row: (string | number)[];
  /** Why it failed (subscribers not open again, events not received), with the counters. */
  failure: string | undefined;
}

/**
 * One storm. Throws if a subscriber received something else than its cohort's missed events
 * (a repeat, a gap, a reorder); one that never caught up within `STORM_TIMEOUT_MS` is a
 * failed result instead (and the restarted gateway may still hold subscribers: replace it).
 */
export async function runStorm(
  ctx: BenchContext,
  transport: 'sse' | 'ws',
  mode: StormMode,
  n: number,
): Promise<StormResult> {
  const { pool, writer, cohorts } = ctx;
  await ctx.target.until((stats) => stats.subscribers === 0);
  const after = encodeEventCursor(await writer.latestSeq());
  await pool.open(ctx.target.url, transport, cohorts, n, after);
  await ctx.target.until((stats) => stats.subscribers === n);
  await pool.reconnect(true);

  const stopAt = clock();
  if (mode === 'graceful') await ctx.target.stop();
  else await ctx.target.kill();
  const missed = [];
  for (const decision of coverDecisions(ctx.decisions, cohorts)) {
    missed.push(await writer.commit(decision));
  }
  ctx.target = await SubscriptionTarget.start(ctx.databaseUrl, ctx.port, COUNT_STORM_STATEMENTS);
  const readyAt = clock();
  const atReady = await ctx.target.stats(false);
  const open = await pool.awaitOpen(STORM_TIMEOUT_MS);
  let missing: string | undefined;
  if (open < n) missing = `${n - open} of ${n} not open again after ${STORM_TIMEOUT_MS / 1000} s`;
  else {
    for (const event of missed) {
      await pool.awaitEvent(event, cohorts, STORM_TIMEOUT_MS).catch((error: Error) => {
        missing ??= error.message;
      });
    }
  }
  const caughtUp = await ctx.target.stats(false);
  await pool.reconnect(false);
  const report = await pool.report();
  await pool.close();
  const errors = ctx.target.errors;
  const failure = missing
    ? `storm ${transport} ${mode}: ${missing}; failed attempts e.g. ` +
      `${report.reconnects.samples.slice(0, 2).join(' | ')}; gateway errors logged e.g. ` +
      errors.first.map((line) => line.replace(/\s+/g, ' ').slice(0, 120)).join(' | ')
    : undefined;
  if (!missing) {
    const check = checkDeliveries(report.logs, report.cohortOf, cohorts, missed);
    if (check.wrong > 0) assertExact(`storm ${transport} ${mode}`, check);
  }
  const missedNotes = new Set(missed.map((e) => e.note));
  const lastReceipt = Math.max(
    ...report.logs.flatMap((log) =>
      log.times.filter((_, j) => missedNotes.has(log.notes[j] as number)),
    ),
  );
  const caughtUpAt = Math.max(lastReceipt, report.lastOpenAt);
  const startup = atReady.statements ?? Number.NaN;
  const storm = (caughtUp.statements ?? Number.NaN) - startup;
  if (report.reconnects.samples.length > 0) {
    ctx.progress(
      `storm ${transport} ${mode}: failed attempts, e.g. ${report.reconnects.samples[0]}`,
    );
  }
  const row = [
    transport,
    mode,
    n,
    missed.length,
    num((readyAt - stopAt) / 1000, 2),
    open < n ? `${open} open` : num((report.lastOpenAt - readyAt) / 1000, 2),
    missing ? 'FAILED' : num((caughtUpAt - readyAt) / 1000, 2),
    report.reconnects.attempts,
    report.reconnects.refused,
    report.reconnects.failed,
    report.reconnects.timedOut,
    ctx.target.errors.count,
    num(startup, 0),
    num(storm, 0),
    num(storm / n, 2),
  ];
  return { row, failure };
}
