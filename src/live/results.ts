/**
 * What every transport needs to deliver one subscription result to many subscribers at the
 * cost of one: the event the result was executed for, and its JSON built once.
 *
 * Subscribers of one cohort (same operation, variables and viewer facts; see
 * `src/pubsub/shared-execution.ts`) receive the very same result object for an event. The
 * transports key their per-event work on that object: `resultJson` stringifies it once (with
 * the response size cap applied once), and SSE / graphql-ws build their frame from that text
 * once per cohort (`src/live/sse.ts`, `src/ws.ts`).
 */
import type { ExecutionResult, FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { encodeEventCursor } from '../codecs.js';
import { ErrorCode } from '../errors.js';
import { bytesOver, responseTooLarge } from '../response-size.js';

/**
 * The `event_seq` of the event a result was executed for. An enumerable symbol property: it
 * survives the `{ ...result }` copies later plugins make (error masking) and is never
 * serialized (JSON ignores symbol keys).
 */
const EVENT_SEQ: unique symbol = Symbol('chipgate.eventSeq');

type Tagged = { [EVENT_SEQ]?: number };

/** Marks `result` as the execution of the event at `seq` (see `eventSeqOf`); returns it. */
export function tagEventSeq<T extends object>(result: T, seq: number): T {
  (result as Tagged)[EVENT_SEQ] = seq;
  return result;
}

/** The `event_seq` of the event `result` was executed for, if it was one (see `tagEventSeq`). */
export function eventSeqOf(result: unknown): number | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  return (result as Tagged)[EVENT_SEQ];
}

const texts = new WeakMap<object, string>();

/**
 * The result as the JSON a client receives: errors formatted (`toJSON`, without yoga's internal
 * `extensions.http` / `unexpected`), and, when it is over `maxBytes` of UTF-8, the
 * `RESPONSE_TOO_LARGE` error in its place. Computed once per result object and `maxBytes`
 * (one cap per instance), however many subscribers it is written to.
 */
export function resultJson(
  result: ExecutionResult | FormattedExecutionResult,
  maxBytes: number,
): string {
  const known = texts.get(result);
  if (known !== undefined) return known;
  const text = JSON.stringify(formatted(result));
  const bytes = bytesOver(text, maxBytes);
  const json =
    bytes === undefined
      ? text
      : JSON.stringify(
          responseTooLarge(bytes, maxBytes, (result as { hasNext?: boolean }).hasNext),
        );
  texts.set(result, json);
  return json;
}

/** The result with its errors as clients see them (see `resultJson`). */
function formatted(result: ExecutionResult | FormattedExecutionResult): FormattedExecutionResult {
  if (!result.errors?.length && !(result.extensions && 'http' in result.extensions)) {
    return result as FormattedExecutionResult;
  }
  const { http: _http, ...extensions } = (result.extensions ?? {}) as Record<string, unknown>;
  return {
    ...result,
    ...(result.errors ? { errors: result.errors.map(formattedError) } : {}),
    extensions: Object.keys(extensions).length > 0 ? extensions : undefined,
  } as FormattedExecutionResult;
}

/**
 * A GraphQL error as clients receive it (`toJSON`), without yoga's internal `extensions.http`
 * (the HTTP status yoga would answer) and `extensions.unexpected`; over SSE and WebSocket alike.
 */
export function formattedError(error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  const json = error instanceof GraphQLError ? error.toJSON() : error;
  if (!json.extensions) return json;
  const {
    http: _http,
    unexpected: _unexpected,
    ...extensions
  } = json.extensions as Record<string, unknown>;
  return { ...json, extensions };
}

/**
 * The payload of a subscriber's last event when it is dropped for not reading: one
 * `SLOW_CONSUMER` error with `extensions.resumeAfter` (the cursor of the last event queued for
 * it, when there was one). `waiting` says where the bytes waited, `hint` how else to resume.
 */
export function slowConsumerJson(
  resumeAfter: number | undefined,
  waiting: string,
  hint = '',
): string {
  const error = {
    message:
      `This subscriber stopped reading: ${waiting}, and the subscription ends so that it does ` +
      `not slow the others. Resubscribe with \`after: extensions.resumeAfter\`${hint} to ` +
      'receive what followed.',
    extensions: {
      code: ErrorCode.SLOW_CONSUMER,
      ...(resumeAfter === undefined ? {} : { resumeAfter: encodeEventCursor(resumeAfter) }),
    },
  };
  return JSON.stringify({ errors: [error] });
}
