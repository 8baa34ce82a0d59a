/**
 * The two opaque identifiers clients keep, and their byte formats: global IDs (`Node.id`,
 * `Query.node(id:)`) and event cursors (`eventCursor`, a subscription's `after:`, SSE `id:` /
 * `Last-Event-ID`). A leaf module (it imports nothing of ours), so the Pothos builder (the relay
 * plugin's `encodeGlobalID`), the planner, the change feed and the transports share one codec.
 *
 * Formats (clients store these values, so they never change):
 * - global ID: base64 (standard alphabet, padded) of the UTF-8 bytes of `Type:key`;
 * - event cursor: base64 of `Event:<event_seq>`.
 *
 * Decoding here only reads the format; which types and keys exist is the node-type registry's
 * business (`decodeGlobalId` in `src/db/node-types.ts`), and how a bad value is reported is the
 * caller's.
 */

/** Standard padded base64, the only alphabet these identifiers are written in. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const EVENT_CURSOR = /^Event:(0|[1-9][0-9]{0,15})$/;

/** The text inside base64 `value`, or undefined when `value` is not padded standard base64. */
function fromBase64(value: string): string | undefined {
  return BASE64.test(value) ? Buffer.from(value, 'base64').toString('utf8') : undefined;
}

/** Encodes `Type:key` as a global ID (base64 of its UTF-8 bytes). */
export function encodeGlobalId(typename: string, key: string | number | bigint): string {
  return Buffer.from(`${typename}:${key}`, 'utf8').toString('base64');
}

/** The parts of a global ID as written: the type name and the key, both unchecked. */
export interface GlobalIdParts {
  typename: string;
  key: string;
}

/**
 * Reads a global ID's `Type:key` (split at the first colon, so a key may hold colons; both are
 * empty when the text has no `Type:` prefix). Undefined when it is empty or not base64.
 */
export function parseGlobalId(globalId: string): GlobalIdParts | undefined {
  const decoded = globalId.length === 0 ? undefined : fromBase64(globalId);
  if (decoded === undefined) return undefined;
  const separator = decoded.indexOf(':');
  return separator > 0
    ? { typename: decoded.slice(0, separator), key: decoded.slice(separator + 1) }
    : { typename: '', key: '' };
}

/** Encodes an event sequence number as the opaque `eventCursor` subscriptions resume from. */
export const encodeEventCursor = (eventSeq: number | string): string =>
  Buffer.from(`Event:${eventSeq}`, 'utf8').toString('base64');

/**
 * The event sequence number of an `eventCursor`; undefined for anything this codec did not
 * write (not base64, another prefix, not a safe integer).
 */
export function parseEventCursor(cursor: string): number | undefined {
  const match = EVENT_CURSOR.exec(fromBase64(cursor) ?? '');
  const seq = Number(match?.[1]);
  return match?.[1] && Number.isSafeInteger(seq) ? seq : undefined;
}
