import { type NodeKey, type NodeTypeName, nodeTypes } from './node-types.js';

/**
 * Most items a plain list (not a connection) answers: a decision's chips and companies, a
 * signal's companies, a chip's derivatives, a company's listings (the API's writers refuse to
 * store more), a decision's status changes (the history grows with every change; the read
 * answers the latest this many), and the short lists of external data (a company's revenue
 * years, a document's agencies). A plain list is charged for this many items (`src/cost.ts`).
 * Declared here, beside the other limits of stored data, since the writers enforce it.
 */
export const PLAIN_LIST_MAX = 20;

/** The longest slug: of every table's rows, and so of every slug a read or write names. */
const SLUG = 100;

/** The longest global-ID key of each kind: a slug, or a row id (at most 16 digits: within 2^53). */
const KEY_LENGTHS: Record<NodeKey, number> = { slug: SLUG, id: 16 };

/**
 * The longest key of each node type's global ID (base64 of `Type:key`), from the kind of key
 * the node-type registry gives it.
 */
export const GLOBAL_ID_KEYS = Object.fromEntries(
  nodeTypes().map(([type, entry]) => [type, KEY_LENGTHS[entry.key]]),
) as Record<NodeTypeName, number>;

/** The length of base64 of `bytes` bytes (with padding). */
const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);

/**
 * The longest valid global ID, derived from `GLOBAL_ID_KEYS` (type names and keys are ASCII,
 * one byte a character): 156, for `PolicyDecision:` and a 100-character slug.
 */
const LONGEST_GLOBAL_ID = Math.max(
  ...Object.entries(GLOBAL_ID_KEYS).map(([type, key]) => base64Length(type.length + 1 + key)),
);

/**
 * The longest text every input of the API may hold, declared once, beside the data model it
 * protects: the write validators (a `ValidationError` naming the field and the limit), the
 * scalars (`URL`, `Decimal`), the checks of read arguments (lookups, filters, search terms,
 * cursors, IDs: `BAD_USER_INPUT`), the slug CHECK constraint and the schema's descriptions all
 * read their numbers from here. Lengths are counted in Unicode code points (`textLength`), as
 * PostgreSQL's `char_length` and `varchar(n)` count them: an emoji outside the Basic
 * Multilingual Plane is one character, not JavaScript's two UTF-16 units.
 */
export const TEXT_LIMITS = {
  /**
   * Slugs: of the rows written, and of the rows named by lookups, filters and references
   * (`chip(slug:)`, `filter: { company: }`, `designer`, `supersedes`, ...).
   */
  slug: SLUG,
  /**
   * Short text: names, titles, authorities, identifiers (Federal Register document numbers,
   * SEC filer types), architectures, process nodes, memory types, `reportedBy`, listing notes,
   * and the architecture filter.
   */
  shortText: 300,
  /** Long text: summaries, status-change notes, export-control notes. */
  longText: 5000,
  /** `URL` values (`sourceUrl`), the length browsers and sitemaps keep to. */
  url: 2048,
  /** `idempotencyKey` of the create mutations. */
  idempotencyKey: 200,
  /** A listing's `ticker`. */
  ticker: 20,
  /** A listing's `exchange`. */
  exchange: 50,
  /** Search terms sent to an external source (`federalRegisterDocuments(filter: { term })`). */
  searchTerm: 200,
  /** `after`/`before` cursors (ours are far shorter; this bounds the work of reading one). */
  cursor: 4096,
  /**
   * A global `ID` (base64 of `Type:key`): the longest one any object can have
   * (`LONGEST_GLOBAL_ID`); a longer one is refused before anything runs.
   */
  globalId: LONGEST_GLOBAL_ID,
  /** A `Decimal` (digits, sign and point). */
  decimal: 64,
} as const;

/** A kind of text input with a declared limit. */
export type TextKind = keyof typeof TEXT_LIMITS;

/** The sentence partners read in a description: "At most N characters." */
export const limitSentence = (kind: TextKind): string =>
  `At most ${TEXT_LIMITS[kind].toLocaleString('en-US')} characters.`;

/** Half of a surrogate pair without its other half (not a character; UTF-8 cannot encode it). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether PostgreSQL can store `value` as sent: `text` cannot hold NUL (U+0000), and a lone
 * surrogate is no character at all (it would arrive as U+FFFD). Inputs that fail are refused
 * with `BAD_USER_INPUT` or a field error, never sent to the database.
 */
export const isStorableText = (value: string): boolean =>
  !value.includes('\u0000') && !LONE_SURROGATE.test(value);

/**
 * The length of `value` in Unicode code points, as PostgreSQL counts characters
 * (`char_length`, `length`, `varchar(n)`): what every limit of `TEXT_LIMITS` is compared with.
 */
export function textLength(value: string): number {
  let length = 0;
  for (const _ of value) length++;
  return length;
}
