/**
 * The shared catch-up reads (`src/pubsub/replay.ts`) over the run's database: requests that
 * arrive together share one statement and each gets exactly what `loadEventsAfter` answers on
 * its own; a kept window answers later requests only when it holds what a fresh read would (an
 * event committed since is never missed); far-apart cursors split; cursor checks count exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/client.js';
import { loadEventsAfter, loadEventWindow } from '../src/db/events.js';
import { ReplayReader } from '../src/pubsub/replay.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { insertSignal } from './helpers/writes.js';

let database: TestDatabase;
const db = (): Database => database.db;
/** The `event_seq` of every event, in order. */
let seqs: number[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  for (let i = 0; i < 6; i++) await insertSignal(db(), `reader-${i}`, null, ['alibaba']);
  seqs = (await loadEventsAfter(db(), 0, 10_000)).map((event) => event.seq);
}, 60_000);
afterAll(async () => {
  await database?.close();
});

const reader = (options: ConstructorParameters<typeof ReplayReader>[1] = {}) =>
  new ReplayReader((after, limit) => loadEventWindow(db(), after, limit), options);
const seqsOf = (events: { seq: number }[]) => events.map((event) => event.seq);

describe('ReplayReader', () => {
  it('answers requests that arrive together with one statement, each exactly as its own read, sharing event objects', async () => {
    const shared = reader();
    const newest = seqs.at(-1) as number;
    const cursors = [seqs.at(-6), seqs.at(-4), seqs.at(-2), seqs.at(-4)] as number[];
    const limits = [3, 101, 1, 2];
    const answers = await Promise.all(
      cursors.map((cursor, i) => shared.read(cursor, limits[i] as number, newest)),
    );
    expect(shared.statements).toBe(1);
    for (const [i, cursor] of cursors.entries()) {
      expect(seqsOf(answers[i] ?? [])).toEqual(
        seqsOf(await loadEventsAfter(db(), cursor, limits[i] as number)),
      );
    }
    // The same event is the same object for every request that received it.
    expect(answers[1]?.[0]).toBe(answers[3]?.[0]);
    expect(answers[0]?.[2]).toBe(answers[1]?.[0]);
    // A later request within the window's lifetime costs nothing.
    expect(seqsOf(await shared.read(seqs.at(-3) as number, 101, newest))).toEqual(seqs.slice(-2));
    expect(shared.statements).toBe(1);
  });

  it('reads again for a request that needs an event committed after the window was read', async () => {
    const shared = reader();
    const before = seqs.at(-1) as number;
    expect(seqsOf(await shared.read(seqs.at(-3) as number, 101, before))).toEqual(seqs.slice(-2));
    await insertSignal(db(), 'reader-late', null, ['alibaba']);
    const [late] = seqsOf(await loadEventsAfter(db(), before, 1));
    seqs.push(late as number);
    // Through `before` the kept window still answers; through the new event it does not.
    expect(seqsOf(await shared.read(seqs.at(-3) as number, 101, before))).toEqual(
      seqs.slice(-2, -1),
    );
    expect(shared.statements).toBe(1);
    expect(seqsOf(await shared.read(seqs.at(-4) as number, 101, late as number))).toEqual(
      seqs.slice(-3),
    );
    expect(shared.statements).toBe(2);
  });

  it('splits cursors too far apart for one statement of maxRows', async () => {
    const shared = reader({ maxRows: 3 });
    const newest = seqs.at(-1) as number;
    const [low, high] = [seqs.at(-7), seqs.at(-2)] as [number, number];
    const [fromLow, fromHigh] = await Promise.all([
      shared.read(low, 2, newest),
      shared.read(high, 2, newest),
    ]);
    expect(shared.statements).toBe(2);
    expect(seqsOf(fromLow ?? [])).toEqual(seqsOf(await loadEventsAfter(db(), low, 2)));
    expect(seqsOf(fromHigh ?? [])).toEqual(seqs.slice(-1));
  });

  it('checks cursors: newest and events behind counted up to the limit; a cursor past the newest is read fresh', async () => {
    const shared = reader();
    const newest = seqs.at(-1) as number;
    const [three, capped, past] = await Promise.all([
      shared.behind(seqs.at(-4) as number, 5, newest),
      shared.behind(seqs.at(-7) as number, 5, newest),
      shared.behind(newest + 1, 5, newest),
    ]);
    expect(three).toEqual({ newest, behind: 3 });
    expect(capped).toEqual({ newest, behind: 5 });
    expect(past).toEqual({ newest, behind: 0 });
    expect(shared.statements).toBe(1);
    // Past the newest again: not answered from the kept window.
    expect(await shared.behind(newest + 1, 5, newest)).toEqual({ newest, behind: 0 });
    expect(shared.statements).toBe(2);
    // The window of the check answers the replay that follows it.
    expect(seqsOf(await shared.read(seqs.at(-4) as number, 101, newest))).toEqual(seqs.slice(-3));
    expect(shared.statements).toBe(2);
  });
});
