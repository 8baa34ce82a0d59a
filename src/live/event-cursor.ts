/**
 * The event cursor codec: `eventCursor` values, which subscriptions resume from (`after:`,
 * SSE `id:` / `Last-Event-ID`). A leaf module, so transports and the event hub use the codec
 * without loading the schema.
 *
 * Format: base64 of `Event:<event_seq>` (opaque to clients).
 */
import { BadUserInputError } from '../errors.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const EVENT_CURSOR = /^Event:(0|[1-9][0-9]{0,15})$/;

/** Encodes an event sequence number as the opaque `eventCursor` subscriptions resume from. */
export const encodeEventCursor = (eventSeq: number | string): string =>
  Buffer.from(`Event:${eventSeq}`, 'utf8').toString('base64');

/**
 * Decodes an `eventCursor` (a subscription's `after:`, or an SSE `Last-Event-ID`) to its event
 * sequence number; `undefined` when absent. Throws `BadUserInputError` for anything the server
 * did not issue; `name` is how the message calls the value (default: `after`).
 */
export function decodeEventCursor(
  cursor: string | null | undefined,
  name = '`after`',
): number | undefined {
  if (cursor == null) return undefined;
  const decoded = BASE64.test(cursor) ? Buffer.from(cursor, 'base64').toString('utf8') : '';
  const match = EVENT_CURSOR.exec(decoded);
  if (!match?.[1] || !Number.isSafeInteger(Number(match[1]))) {
    throw new BadUserInputError(
      `${name} is not an event cursor: pass the \`eventCursor\` of an update or signal you received.`,
    );
  }
  return Number(match[1]);
}
