/**
 * Forged cursors: base64 of the right prefix and list, with values that do not fit the list's
 * ordering (wrong types, wrong number of values, nested values, numbers out of range, dates
 * that do not exist, text PostgreSQL cannot hold). Every one is `BAD_USER_INPUT` before any
 * SQL is sent, on both read paths, for every list.
 */
import { describe, expect, it } from 'vitest';
import type { CursorPart, CursorShape } from '../src/db/cursors.js';
import { cursorScheme, type ListDeclaration, lists } from '../src/db/lists.js';
import { TIMELINE_CURSOR } from '../src/db/timeline.js';
import { bothReadPaths, postOn } from './helpers/gateway.js';
import { LIST_PAGES } from './helpers/lists.js';

const both = bothReadPaths();

/** Both read paths: the planner (the gateway's default) and the resolvers. */

const PATHS = both.paths;

/** The shape of each list's cursors, from the declarations the gateway reads. */
const SHAPES = new Map<string, CursorShape>([
  ...(Object.values(lists) as ListDeclaration[]).map(
    (list) => [list.name, cursorScheme(list).shape] as const,
  ),
  [TIMELINE_CURSOR.list, TIMELINE_CURSOR.shape],
]);

/** A value that fits each part. */
const GOOD: Record<CursorPart, unknown> = {
  text: 'H200',
  slug: 'h200',
  date: '2026-01-14',
  id: 1,
  instant: '2026-01-14T00:00:00.000Z',
  rank: 1,
};

/** Values of the right JSON type for each part that still do not fit it. */
const BAD_OF_PART: Record<CursorPart, unknown[]> = {
  text: ['a\u0000b', 'x'.repeat(5_000)],
  slug: ['H200', 'a\u0000b', `${'a'.repeat(101)}`],
  date: ['2026-02-30', '2026-13-01', '10000-01-01', '2026-1-1'],
  id: [0.5, -1, 2 ** 63, 1e308, 2 ** 53],
  instant: ['1', 'Tue Mar 01 2026', '2026-02-30T00:00:00Z', '2026-01-01', '2026-01-01T00:00:00'],
  rank: [3, -1, 1.5],
};

/** Values of the wrong JSON type for any part. */
const WRONG_TYPES: unknown[] = [null, true, { a: 1 }, ['x'], [], 12, '12', 1e308];

/** Forged value arrays for a shape: each position wrong in every way, and wrong lengths. */
function forgedValues(shape: CursorShape): { why: string; values: unknown }[] {
  const good = shape.map((part) => GOOD[part]);
  const forged: { why: string; values: unknown }[] = [
    { why: 'no values', values: [] },
    { why: 'one value too many', values: [...good, GOOD[shape.at(-1) ?? 'text']] },
    { why: 'one value too few', values: good.slice(0, -1) },
    { why: 'an object, not an array', values: Object.fromEntries(good.entries()) },
    { why: 'nested arrays', values: [good] },
  ];
  for (const [i, part] of shape.entries()) {
    const fitting = JSON.stringify(GOOD[part]);
    for (const bad of [...BAD_OF_PART[part], ...WRONG_TYPES]) {
      if (JSON.stringify(bad) === fitting) continue;
      // '12' is a text and a slug, 12 an id: wrong elsewhere only.
      if ((part === 'text' || part === 'slug') && bad === '12') continue;
      if (part === 'id' && bad === 12) continue;
      const values = [...good];
      values[i] = bad;
      forged.push({ why: `position ${i} (${part}) = ${JSON.stringify(bad).slice(0, 40)}`, values });
    }
  }
  return forged;
}

/** A cursor of the right format and list, holding `values` (JSON as written, e.g. `1e999`). */
const cursorOf = (list: string, json: string) =>
  Buffer.from(`cg2:${list}:${json}`, 'utf8').toString('base64');

describe('forged cursors of the right list are refused before any SQL', () => {
  it('every list is covered', () => {
    expect([...SHAPES.keys()].sort()).toEqual(Object.keys(LIST_PAGES).sort());
  });

  it.each(PATHS)('%s: every list, after and before', async (_name, app) => {
    let checked = 0;
    for (const [name, list] of Object.entries(LIST_PAGES)) {
      const shape = SHAPES.get(name);
      if (!shape) throw new Error(`no shape for ${name}`);
      const cursors = [
        ...forgedValues(shape).map(({ why, values }) => ({
          why,
          cursor: cursorOf(name, JSON.stringify(values)),
        })),
        // Numbers JSON.stringify cannot write: 1e999 reads as Infinity.
        {
          why: 'Infinity',
          cursor: cursorOf(
            name,
            `[${shape.map((p) => JSON.stringify(GOOD[p])).join(',')}]`.replace(
              /^\[[^,\]]+/,
              '[1e999',
            ),
          ),
        },
      ];
      for (const { why, cursor } of cursors) {
        for (const argument of ['after', 'before'] as const) {
          const query =
            argument === 'after'
              ? list.query
              : list.query.replace('first: 2, after: $c', 'last: 2, before: $c');
          both.gateway.statements.reset();
          const { status, text } = await postOn(app(), query, { c: cursor });
          const result = JSON.parse(text);
          const where = `${name} ${argument}: ${why}`;
          expect(result.data, where).toBeUndefined();
          expect(
            (result.errors ?? []).map(
              (e: { extensions?: { code?: string } }) => e.extensions?.code,
            ),
            where,
          ).toEqual(['BAD_USER_INPUT']);
          // Not a cursor this list issued, or (too long for any cursor) over the limit.
          expect(result.errors[0].message, where).toMatch(
            /^Argument "(after|before)" (is not a cursor this list issued|of .+ must be at most)/,
          );
          expect(status, where).toBe(200);
          expect(both.gateway.statements.statements, where).toEqual([]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
  });
});
