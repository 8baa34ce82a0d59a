/**
 * What an operation costs, and the bounds that make its cost a bound of the work it causes.
 *
 * The rule, in one place:
 * - every field costs 1, except a text field with a declared limit (a kind of `TEXT_LIMITS`:
 *   slugs, short and long texts, URLs, tickers, ...), which costs what its longest answer takes
 *   in units of `WORK_PER_COST.responseBytes` (`textComplexity`, one rule for every kind): 1 for
 *   slugs and short texts, 3 for a URL, 15 for a long text;
 * - a field that returns a list multiplies the cost of its selection by the most items it can
 *   return: a connection (or any paged list) by its page size (`first`/`last`), at least 1
 *   (`totalCount` and `pageInfo` are answered for an empty page too); `nodes(ids)` by
 *   the number of ids it lists, repeats included (every position is answered, though the store
 *   reads each distinct id once); any other list by `PLAIN_LIST_MAX`, the most items a plain
 *   list answers (writers refuse more, or the read keeps the latest: see `PLAIN_LIST_MAX`);
 * - every list passed as an argument, at any depth (ids, filter values, mutation inputs), holds
 *   at most `MAX_LIST_ARGUMENT` entries; a longer one is `BAD_USER_INPUT` before anything runs
 *   (`inputLimitError` in `src/input-limits.ts`, with the other limits of input values).
 *
 * So the work an operation causes (rows read, bytes answered) is at most its cost times
 * `WORK_PER_COST`; a test walks generated and hostile operations to hold the gateway to it.
 */
import { PLAIN_LIST_MAX, TEXT_LIMITS, type TextKind } from './db/limits.js';

/**
 * Most stored events one subscription replays when it starts `after:` a cursor (its catch-up),
 * counted over every event after the cursor, whatever the subscription's filter. A cursor more
 * than this many events behind the newest is refused when it subscribes (`BAD_USER_INPUT`: read
 * the missed range with the lists, or resume from a newer cursor), so a replay never skips an
 * event silently; a subscription with `after:` is charged for this many events (see
 * `subscriptionComplexity`).
 */
export const REPLAY_MAX = 100;

/** Most entries of one list argument or input field (`nodes(ids)`, filter lists, inputs). */
export const MAX_LIST_ARGUMENT = 100;

/**
 * The most work one unit of cost may cause, as the cost-bounds test measures it for every
 * operation it sends: rows the database read to build the answer (every table and index scan
 * of the operation's statements, as `EXPLAIN ANALYZE` counts them) and bytes of the response.
 * Rows scanned only to be counted (`totalCount`) are not among them: a count reads every
 * matching row of its list, which grows with the data, not with anything a request says.
 */
export const WORK_PER_COST = {
  /** Rows read per unit of cost. */
  rowsRead: 24,
  /**
   * Response bytes per unit of cost: 2,048, so that a short text (300 characters, at most 1,802
   * bytes of JSON) costs 1 like any other field, a URL 3 and a long text 15. With 256, as before,
   * a short text at its longest would have cost 8 and a URL 17: every name and title of a page
   * priced like a long summary, for bytes an ordinary answer never holds; fields without text
   * (numbers, dates, enums, IDs) answer far less than 2,048 bytes, so charging them 1 still
   * bounds them.
   */
  responseBytes: 2048,
} as const;

/**
 * Most bytes one character of stored text (one code point, as `TEXT_LIMITS` counts) takes in a
 * JSON answer, by kind: a control character is written as `\u001f` (6 bytes), more than any
 * character's UTF-8 (at most 4). A `URL` is stored and answered as its WHATWG serialization,
 * which is ASCII (percent-encoded, punycode host); of ASCII, JSON escapes only `"` (which the
 * serialization percent-encodes) and `\` (which a query or fragment keeps): 2 bytes. A cursor
 * or a global ID is base64, which JSON writes as is: 1 byte.
 */
export const maxJsonBytesPerChar = (kind: TextKind): number =>
  kind === 'url' ? 2 : kind === 'cursor' || kind === 'globalId' ? 1 : 6;

/**
 * Complexity of a text field holding at most `TEXT_LIMITS[kind]` characters: the units of cost
 * (`WORK_PER_COST.responseBytes` each) its longest answer takes, quotes included; at least 1.
 * Long text (5,000 characters, up to 30,002 bytes of JSON) costs 15; a URL (2,048 characters, up
 * to 4,098 bytes) 3; a cursor (`TEXT_LIMITS.cursor`: base64 of a list's ordering values, which
 * hold at most a short text and a slug, so under 2,700 characters) 3; a short text (300
 * characters, 1,802 bytes) or a slug 1.
 */
export const textComplexity = (kind: TextKind) => ({
  field: Math.max(
    1,
    Math.ceil((TEXT_LIMITS[kind] * maxJsonBytesPerChar(kind) + 2) / WORK_PER_COST.responseBytes),
  ),
  multiplier: 1,
});

/** Complexity of a plain list: its selection, `PLAIN_LIST_MAX` times (the builder's default). */
export const PLAIN_LIST_COMPLEXITY = { field: 1, multiplier: PLAIN_LIST_MAX } as const;

/**
 * Complexity of the `edges` of a page: once, since the page's own field (the connection)
 * already multiplies its selection by the page size.
 */
export const PAGE_ITEMS_COMPLEXITY = { field: 1, multiplier: 1 } as const;

/**
 * Complexity of a page of `size` items (a connection): its selection `size` times, and at least
 * once, since a page's own fields (`totalCount`, `pageInfo`) are answered even when it is empty.
 */
export const pageComplexity = (size: number) => ({ field: 1, multiplier: Math.max(size, 1) });

/** Complexity of `nodes(ids)`: its selection once per id listed, repeats included. */
export const idsComplexity = (args: { ids: readonly unknown[] }) => ({
  field: 1,
  multiplier: args.ids.length,
});

/**
 * Complexity of a subscription field: its selection once per event it may send before it is
 * live, so the admission charge bounds its replay. Without `after:` that is the first live event
 * (1); with it, also every event it may replay (`1 + REPLAY_MAX`). Live events after those are
 * bounded by the subscription slots and the queue, not by the charge.
 */
export const subscriptionComplexity = (
  args: { after?: string | null | undefined },
  ctx?: { lastEventId?: string | undefined },
) => ({
  field: 1,
  // An SSE `Last-Event-ID` resumes as `after:` does (see `Context.lastEventId`).
  multiplier: args.after == null && ctx?.lastEventId === undefined ? 1 : 1 + REPLAY_MAX,
});
