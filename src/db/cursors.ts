/**
 * Keyset cursors: the opaque `cursor`, `startCursor` and `endCursor` strings of every Relay
 * connection over the store. Our own format, so no library upgrade can change or reject the
 * cursors clients hold.
 *
 * A cursor is base64 of `cg1:` followed by a JSON array of the row's ordering values, in the
 * list's ordering (e.g. `cg1:["2026-01-14","us-whitehouse-2026-01-14-proclamation-11002"]`).
 * Each list declares the shape of its values (`CursorShape`); a cursor is checked against it
 * before any SQL runs, so a forged cursor or one of another list is `BAD_USER_INPUT`, never a
 * database error.
 *
 * Cursors issued before this format keep working: `DC:T:[...]` tuples of `S:`/`N:` chunks
 * (the relational lists) and `Timeline:[...]` (the timeline) decode to the same values.
 */
import { BadUserInputError } from '../errors.js';

/**
 * What one position of a cursor holds: `text` (any string), `slug`, `date` (`YYYY-MM-DD`),
 * `id` (a positive row id), `instant` (an ISO 8601 timestamp), `rank` (0, 1 or 2).
 */
export type CursorPart = 'text' | 'slug' | 'date' | 'id' | 'instant' | 'rank';

/** The values of a list's cursor, in its ordering. */
export type CursorShape = readonly CursorPart[];

/** A decoded cursor: the ordering values of the row it points at. */
export type CursorValues = readonly (string | number)[];

const PREFIX = 'cg1:';
const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const DATE = /^(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const PART_CHECKS: Record<CursorPart, (value: unknown) => boolean> = {
  text: (value) => typeof value === 'string',
  slug: (value) => typeof value === 'string' && value.length <= 200 && SLUG.test(value),
  date: (value) => typeof value === 'string' && DATE.test(value),
  id: (value) => Number.isSafeInteger(value) && (value as number) >= 0,
  instant: (value) =>
    typeof value === 'string' && value.length <= 40 && !Number.isNaN(Date.parse(value)),
  rank: (value) => value === 0 || value === 1 || value === 2,
};

/** Encodes a row's ordering values as an opaque cursor. */
export function encodeCursor(values: CursorValues): string {
  return Buffer.from(`${PREFIX}${JSON.stringify(values)}`, 'utf8').toString('base64');
}

/** A legacy `S:`/`N:` chunk as its value, or undefined when it is neither. */
function legacyChunk(chunk: unknown): string | number | undefined {
  if (typeof chunk !== 'string') return undefined;
  if (chunk.startsWith('S:')) return chunk.slice(2);
  if (/^N:[1-9]\d{0,15}$/.test(chunk)) return Number(chunk.slice(2));
  return undefined;
}

/** The JSON array a decoded cursor text carries, or undefined when it is not one of ours. */
function valuesOf(text: string): unknown[] | undefined {
  let body: string;
  let legacy = false;
  if (text.startsWith(PREFIX)) body = text.slice(PREFIX.length);
  else if (text.startsWith('DC:T:')) {
    body = text.slice('DC:T:'.length);
    legacy = true;
  } else if (text.startsWith('Timeline:')) body = text.slice('Timeline:'.length);
  else return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  return legacy ? parsed.map(legacyChunk) : parsed;
}

/**
 * Decodes the cursor passed as `argument` (`after` or `before`) of a list whose cursors have
 * `shape`; `legacyShapes` are other shapes the list issued before, whose leading values are
 * the same. Returns the values (as many as `shape` has); throws `BadUserInputError`.
 */
export function decodeCursor(
  argument: string,
  cursor: string,
  shape: CursorShape,
  legacyShapes: readonly CursorShape[] = [],
): CursorValues {
  const text = BASE64.test(cursor) ? Buffer.from(cursor, 'base64').toString('utf8') : '';
  const values = valuesOf(text);
  const fits = (candidate: CursorShape) =>
    values !== undefined &&
    values.length === candidate.length &&
    candidate.every((part, i) => PART_CHECKS[part](values[i]));
  if (values && (fits(shape) || legacyShapes.some(fits))) {
    return values.slice(0, shape.length) as CursorValues;
  }
  const shown = cursor.length > 60 ? `${cursor.slice(0, 60)}...` : cursor;
  throw new BadUserInputError(
    `Argument "${argument}" is not a cursor this list issued: "${shown}". Pass an edge's cursor, or pageInfo's startCursor/endCursor, from the same list.`,
  );
}
