/**
 * The response-size backstop (`CHIPGATE_MAX_RESPONSE_BYTES`): a response whose JSON is larger
 * than the cap is never sent, in whole or in part. The caller gets one `RESPONSE_TOO_LARGE`
 * error instead, with no data:
 *
 * - a query or mutation over HTTP: HTTP 422 and that error as the body;
 * - a stream (SSE, `multipart/mixed` with `@defer`/`@stream`, a subscription over SSE or
 *   WebSocket, or a query over WebSocket): each event is judged on its own; an event over the
 *   cap is replaced by that error (a stream keeps `hasNext`), and the stream goes on, since the
 *   next event may be small (the status of a stream was sent with its first byte).
 *
 * The cost limits bound the work an operation may ask for; this cap bounds what one answer
 * may hold whatever the data. The JSON is measured as it is serialized for sending (once), so
 * the cap costs a byte count, not a second serialization (for subscription streams, once per
 * result object however many subscribers receive it: `resultJson` in `src/live/results.ts`).
 */
import { mapAsyncIterator } from '@graphql-tools/utils';
import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { acceptsEventStream } from './accept.js';
import { ErrorCode } from './errors.js';

/** HTTP status of a refused response: the request was understood, its answer is too large. */
export const RESPONSE_TOO_LARGE_STATUS = 422;

/** The size in bytes of `text` as UTF-8 when it is over `maxBytes`, else undefined. */
export function bytesOver(text: string, maxBytes: number): number | undefined {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most answers are judged without counting.
  if (text.length * 3 <= maxBytes) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > maxBytes ? bytes : undefined;
}

/**
 * What replaces an answer of `bytes` bytes over the cap `maxBytes`: one `RESPONSE_TOO_LARGE`
 * error and no data (`hasNext` kept for a part of an incremental stream).
 */
export function responseTooLarge(
  bytes: number,
  maxBytes: number,
  hasNext?: boolean,
): FormattedExecutionResult & { hasNext?: boolean } {
  return {
    errors: [
      {
        message:
          `The response would be ${bytes} bytes, over this gateway's limit of ${maxBytes} ` +
          'bytes; nothing of it was sent. Ask for fewer fields, smaller pages (first/last) or ' +
          'fewer ids.',
        extensions: { code: ErrorCode.RESPONSE_TOO_LARGE },
      },
    ],
    ...(hasNext === undefined ? {} : { hasNext }),
  };
}

type Serializable = ExecutionResult & {
  stringify?: (result: ExecutionResult) => string;
  hasNext?: boolean;
};

/**
 * `result` with a serializer that measures what it writes: over `maxBytes`, it writes the
 * refusal instead and tells `onRefused` its text.
 */
function measured(
  result: Serializable,
  maxBytes: number,
  onRefused?: (body: string) => void,
): Serializable {
  const stringify = result.stringify ?? JSON.stringify;
  return {
    ...result,
    stringify: (value) => {
      const text = stringify(value);
      const bytes = bytesOver(text, maxBytes);
      if (bytes === undefined) return text;
      const body = JSON.stringify(responseTooLarge(bytes, maxBytes, result.hasNext));
      onRefused?.(body);
      return body;
    },
  };
}

/** The yoga plugin of the cap (see the module comment) for HTTP responses and SSE events. */
export function useResponseSizeLimit(maxBytes: number): Plugin {
  const refused = new WeakMap<Request, string>();
  return {
    onResultProcess({ request, result, setResult }) {
      if (isAsyncIterable(result)) {
        // Events over SSE are capped by the transport, once per cohort and event, not once per
        // subscriber (`resultJson` in src/live/results.ts).
        if (acceptsEventStream(request)) return;
        setResult(mapAsyncIterator(result, (value: Serializable) => measured(value, maxBytes)));
      } else if (Array.isArray(result)) {
        setResult(result.map((entry) => measured(entry, maxBytes)));
      } else {
        setResult(measured(result, maxBytes, (body) => refused.set(request, body)));
      }
    },
    onResponse({ request, response, setResponse, fetchAPI }) {
      const body = refused.get(request);
      if (body === undefined) return;
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        if (name !== 'content-length') headers[name] = value;
      });
      setResponse(new fetchAPI.Response(body, { status: RESPONSE_TOO_LARGE_STATUS, headers }));
    },
  };
}
