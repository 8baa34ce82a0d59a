/**
 * Cron slots of a scheduled sync: the instants a cron expression names, in UTC. Five fields
 * (minute first) or six (seconds first, for schedules of a few seconds), as cron-parser reads
 * them. A slot is identified by its instant; every instance computes the same slots. A leaf
 * (cron-parser only), so configuration (`src/env.ts`) checks a schedule with the same reading
 * the sync scheduler (`src/sync/`) runs it by.
 */
import cronParser from 'cron-parser';

/** Parses `expression`; throws with cron-parser's message when it is not a valid cron. */
export function checkCron(expression: string): void {
  cronParser.parseExpression(expression, { tz: 'UTC' });
}

/** The latest slot at or before `nowMs` (Unix milliseconds), as a Date. */
export function latestSlot(expression: string, nowMs: number): Date {
  // prev() is strictly before currentDate; slots are whole seconds, so +1 ms includes `nowMs`.
  return cronParser
    .parseExpression(expression, { currentDate: new Date(nowMs + 1), tz: 'UTC' })
    .prev()
    .toDate();
}

/** The first slot after `nowMs` (Unix milliseconds), as a Date. */
export function nextSlot(expression: string, nowMs: number): Date {
  return cronParser
    .parseExpression(expression, { currentDate: new Date(nowMs), tz: 'UTC' })
    .next()
    .toDate();
}

/** The first day (`YYYY-MM-DD`, UTC) of a trailing window of `days` days ending at `slot`. */
export function windowStart(slot: Date, days: number): string {
  return new Date(slot.getTime() - days * 86_400_000).toISOString().slice(0, 10);
}
