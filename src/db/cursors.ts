/**
 * Keyset cursors: the opaque `cursor`, `startCursor` and `endCursor` strings of every Relay
 * connection over the store. Our own format, so no library upgrade can change or reject the
 * cursors clients hold.
 *
 * A cursor is base64 of `cg2:`, the list that issued it (its field, e.g. `Query.chips`), `:`,
 * and a JSON array of the row's ordering values in the list's ordering (e.g.
 * `cg2:Query.policyDecisions:["2026-01-14","us-whitehouse-2026-01-14-proclamation-11002"]`).
 * A cursor is checked against the list it is given to before any SQL runs: another list's
 * cursor (even one whose values would fit, such as a `Query.policyDecisions` cursor on
 * `Query.chips`, or a `Chip.policyDecisions` cursor on `Company.policyDecisions`) or a forged
 * one is `BAD_USER_INPUT`, never a silently wrong page or a database error. Within one list a
 * cursor keeps its meaning whatever the parent row, filter or direction of the page: it is the
 * position of a row in the list's ordering.
 *
 * Formats of earlier versions that cannot say which list issued them (`cg1:` and `DC:`) are
 * refused with a message saying to fetch the first page again. `Timeline:`, which only the
 * timeline issued, is still accepted there (`CursorScheme.legacyPrefix`).
 */
import { BadUserInputError } from '../errors.js';
import { isStorableText, TEXT_LIMITS } from './limits.js';

/**
 * What one position of a cursor holds, as the column it compares with: `text` (text
 * PostgreSQL can hold: no NUL, no lone surrogate), `slug`, `date` (`YYYY-MM-DD`, a day that
 * exists, years 0001-9999), `id` (a row id: an integer from 0 to 2^53 - 1, inside `bigint`),
 * `instant` (an ISO 8601 timestamp as the timeline writes it: `YYYY-MM-DDTHH:MM:SS[.ffffff]`
 * and `Z` or `+HH:MM`, a day and time that exist), `rank` (0, 1 or 2).
 */
export type CursorPart = 'text' | 'slug' | 'date' | 'id' | 'instant' | 'rank';

/** The values of a list's cursor, in its ordering. */
export type CursorShape = readonly CursorPart[];

/** A decoded cursor: the ordering values of the row it points at. */
export type CursorValues = readonly (string | number)[];

const PREFIX = 'cg2:';
/** Formats of earlier versions that do not name the list that issued them. */
const UNNAMED_FORMATS = ['cg1:', 'DC:'];
const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT =
  /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d{1,6})?(Z|[+-](0\d|1[0-4]):[0-5]\d)$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Whether `value` is `YYYY-MM-DD` of a day that exists (years 0001-9999, as `date` takes). */
function isDay(value: string): boolean {
  const match = DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  // Day 0 of the next month is the last day of this one (UTC, so no time zone moves it).
  const date = new Date(0);
  date.setUTCFullYear(year, month, 0);
  return day <= date.getUTCDate();
}

/**
 * The one definition of what each part holds: cursors are checked against it when encoded
 * (a row that does not fit is a bug, not a client error) and when decoded (a value that does
 * not fit is `BAD_USER_INPUT` before any SQL is sent, so nothing forged reaches a cast).
 */
const PART_CHECKS: Record<CursorPart, (value: unknown) => boolean> = {
  text: (value) =>
    typeof value === 'string' && value.length <= TEXT_LIMITS.cursor && isStorableText(value),
  slug: (value) =>
    typeof value === 'string' && value.length <= TEXT_LIMITS.slug && SLUG.test(value),
  date: (value) => typeof value === 'string' && isDay(value),
  id: (value) => Number.isSafeInteger(value) && (value as number) >= 0,
  instant: (value) => {
    if (typeof value !== 'string') return false;
    const match = INSTANT.exec(value);
    return match !== null && isDay(match[1] as string);
  },
  rank: (value) => value === 0 || value === 1 || value === 2,
};

/** Whether `values` fit `shape`: as many values as parts, each what its part holds. */
const fitsShape = (values: readonly unknown[], shape: CursorShape) =>
  values.length === shape.length && shape.every((part, i) => PART_CHECKS[part](values[i]));

/** How one list's cursors read: the name they carry, and the shape of their values. */
export interface CursorScheme {
  /** The list's field, e.g. `Query.chips` or `Chip.policyDecisions`, written into its cursors. */
  readonly list: string;
  readonly shape: CursorShape;
  /** The prefix of an earlier format that only this list issued (same values), still accepted. */
  readonly legacyPrefix?: string;
}

/**
 * Encodes a row's ordering values as an opaque cursor of `scheme`'s list. Throws (a plain
 * `Error`: masked, a bug) when the values do not fit the list's shape, since such a cursor
 * could never be read back.
 */
export function encodeCursor(scheme: CursorScheme, values: CursorValues): string {
  if (!fitsShape(values, scheme.shape)) {
    throw new Error(`${scheme.list}: ordering values do not fit its cursor (${scheme.shape})`);
  }
  return Buffer.from(`${PREFIX}${scheme.list}:${JSON.stringify(values)}`, 'utf8').toString(
    'base64',
  );
}

/** The JSON array `body` holds, or undefined. */
function arrayOf(body: string): unknown[] | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes the cursor passed as `argument` (`after` or `before`) to the list of `scheme`.
 * Returns its values; throws `BadUserInputError` for a cursor another list issued, one of an
 * earlier format that does not say which list issued it, or anything else we did not issue.
 */
export function decodeCursor(argument: string, cursor: string, scheme: CursorScheme): CursorValues {
  const shown = cursor.length > 60 ? `${cursor.slice(0, 60)}...` : `${cursor}`;
  const refuse = (why: string): never => {
    throw new BadUserInputError(
      `Argument "${argument}" is not a cursor this list issued: ${why} Pass an edge's cursor, or pageInfo's startCursor/endCursor, from the same list (${scheme.list}).`,
    );
  };
  const text =
    cursor.length <= TEXT_LIMITS.cursor && BASE64.test(cursor)
      ? Buffer.from(cursor, 'base64').toString('utf8')
      : '';
  let values: unknown[] | undefined;
  if (text.startsWith(PREFIX)) {
    const colon = text.indexOf(':', PREFIX.length);
    const issuer = colon < 0 ? '' : text.slice(PREFIX.length, colon);
    if (colon >= 0 && issuer !== scheme.list) {
      refuse(`"${shown}" was issued by ${issuer.slice(0, 60)}.`);
    }
    values = arrayOf(text.slice(colon + 1));
  } else if (scheme.legacyPrefix && text.startsWith(scheme.legacyPrefix)) {
    values = arrayOf(text.slice(scheme.legacyPrefix.length));
  } else if (UNNAMED_FORMATS.some((format) => text.startsWith(format))) {
    refuse(
      `"${shown}" is a cursor of an earlier version, which does not say which list issued it; fetch the first page again (without "after" or "before") and page on from there.`,
    );
  }
  if (values === undefined || !fitsShape(values, scheme.shape)) refuse(`"${shown}".`);
  return values as CursorValues;
}
