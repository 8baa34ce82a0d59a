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
import { TEXT_LIMITS } from './limits.js';

/**
 * What one position of a cursor holds: `text` (any string), `slug`, `date` (`YYYY-MM-DD`),
 * `id` (a positive row id), `instant` (an ISO 8601 timestamp), `rank` (0, 1 or 2).
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
const DATE = /^(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const PART_CHECKS: Record<CursorPart, (value: unknown) => boolean> = {
  text: (value) => typeof value === 'string',
  slug: (value) =>
    typeof value === 'string' && value.length <= TEXT_LIMITS.slug && SLUG.test(value),
  date: (value) => typeof value === 'string' && DATE.test(value),
  id: (value) => Number.isSafeInteger(value) && (value as number) >= 0,
  instant: (value) =>
    typeof value === 'string' && value.length <= 40 && !Number.isNaN(Date.parse(value)),
  rank: (value) => value === 0 || value === 1 || value === 2,
};

/** How one list's cursors read: the name they carry, and the shape of their values. */
export interface CursorScheme {
  /** The list's field, e.g. `Query.chips` or `Chip.policyDecisions`, written into its cursors. */
  readonly list: string;
  readonly shape: CursorShape;
  /** The prefix of an earlier format that only this list issued (same values), still accepted. */
  readonly legacyPrefix?: string;
}

/** Encodes a row's ordering values as an opaque cursor of the list named `list`. */
export function encodeCursor(list: string, values: CursorValues): string {
  return Buffer.from(`${PREFIX}${list}:${JSON.stringify(values)}`, 'utf8').toString('base64');
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
  const fits =
    values !== undefined &&
    values.length === scheme.shape.length &&
    scheme.shape.every((part, i) => PART_CHECKS[part](values[i]));
  if (!fits) refuse(`"${shown}".`);
  return values as CursorValues;
}
