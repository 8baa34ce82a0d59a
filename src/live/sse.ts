/**
 * Subscriptions over Server-Sent Events (GraphQL over SSE, "distinct connections" mode: one HTTP
 * response per subscription, `event: next` / `event: complete`), written for thousands of
 * subscribers per instance. It replaces yoga's own SSE result processor for subscription
 * streams, and for the payloads of a query with `@defer`/`@stream` (each an `event: next`, then
 * `event: complete`); single results (a refused subscription) still go through yoga's.
 *
 * - **One serialisation per cohort.** Subscribers of one cohort receive the same result object
 *   per event (`src/pubsub/shared-execution.ts`); its frame (`id:`, `event: next`, `data:`) is
 *   built once, as one Buffer, and that Buffer is written to every member's response.
 * - **The standard resume.** Every event carries `id: <eventCursor>`. A browser's
 *   `EventSource` sends the last one back as `Last-Event-ID` when it reconnects, and the
 *   subscription resumes after it exactly as with `after:` (see `lastEventIdOf`); the stream
 *   opens with `retry:` (a reconnection delay with jitter, so that a restarted instance is not
 *   hit by every browser in the same millisecond).
 * - **Slow clients never slow the rest.** Events are pushed as they come, never awaited per
 *   client. A response whose unsent bytes (our queue plus the socket's) pass
 *   `maxBufferedBytes` is dropped: it gets a final `SLOW_CONSUMER` error whose
 *   `extensions.resumeAfter` is the cursor of the last event queued for it (resume with it, or
 *   let `EventSource` resume with `Last-Event-ID`), then `complete`; if the client still reads
 *   nothing for `dropGraceMs`, the connection is cut.
 * - **One heartbeat timer per instance** (`Heartbeat`): an idle stream gets a comment line
 *   (`:`) every interval, so proxies keep it open.
 */
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { acceptsEventStream } from '../accept.js';
import { encodeEventCursor } from '../codecs.js';
import { ErrorCode } from '../errors.js';
import type { Heartbeat } from './heartbeat.js';
import { eventSeqOf, resultJson, slowConsumerJson } from './results.js';

/** Settings of the SSE transport (see the README's configuration table). */
export interface EventStreamOptions {
  /** The instance's keep-alive timer. */
  heartbeat: Heartbeat;
  /** Largest event JSON sent, in bytes (`CHIPGATE_MAX_RESPONSE_BYTES`). */
  maxResponseBytes: number;
  /**
   * Most bytes that may wait unsent for one subscriber (`CHIPGATE_SSE_MAX_BUFFERED_BYTES`):
   * past it the subscriber is dropped with `SLOW_CONSUMER`.
   */
  maxBufferedBytes: number;
  /** How long a dropped subscriber may take to read its last frames before it is cut, ms. */
  dropGraceMs?: number;
  /**
   * `retry:` sent to the browser (its reconnection delay), ms: drawn per stream between
   * `retryMs` and twice that.
   */
  retryMs?: number;
  /** Told about each dropped slow subscriber (a metric, a log line). */
  onDrop?: (bufferedBytes: number) => void;
  /** Told about an unexpected failure of a stream (logged by the app). */
  onError?: (error: unknown) => void;
}

const PING = Buffer.from(':\n\n');
const COMPLETE = Buffer.from('event: complete\ndata:\n\n');
const HEADERS = {
  'Content-Type': 'text/event-stream',
  Connection: 'keep-alive',
  'Cache-Control': 'no-cache',
  'Content-Encoding': 'none',
  // nginx and similar proxies must not buffer the stream.
  'X-Accel-Buffering': 'no',
};

const frames = new WeakMap<object, Buffer>();

/**
 * The SSE frame of one result, built once per result object (that is, once per cohort and
 * event): `id: <eventCursor>` when the result is an event's, then `event: next` and the JSON.
 */
export function eventFrame(result: ExecutionResult, maxResponseBytes: number): Buffer {
  const known = frames.get(result);
  if (known) return known;
  const seq = eventSeqOf(result);
  const id = seq === undefined ? '' : `id: ${encodeEventCursor(seq)}\n`;
  const frame = Buffer.from(`${id}event: next\ndata: ${resultJson(result, maxResponseBytes)}\n\n`);
  frames.set(result, frame);
  return frame;
}

/** The frame that ends a dropped slow subscriber's stream (before `complete`). */
function slowConsumerFrame(bufferedBytes: number, resumeAfter: number | undefined): Buffer {
  const json = slowConsumerJson(
    resumeAfter,
    `${bufferedBytes} bytes of events were waiting`,
    ' (an EventSource resumes by itself with Last-Event-ID)',
  );
  return Buffer.from(`event: next\ndata: ${json}\n\n`);
}

/**
 * The `Last-Event-ID` an SSE subscription request carries (an `EventSource` reconnecting), or
 * undefined. Only event-stream requests count: elsewhere the header means nothing.
 */
export function lastEventIdOf(request: Request | undefined): string | undefined {
  if (!request || !acceptsEventStream(request)) return undefined;
  const value = request.headers.get('last-event-id');
  return value == null || value.trim() === '' ? undefined : value.trim();
}

/** The yoga plugin of the transport; see the module comment. */
export function useEventStream(options: EventStreamOptions): Plugin {
  const { heartbeat, maxResponseBytes, maxBufferedBytes } = options;
  const dropGraceMs = options.dropGraceMs ?? 10_000;
  const retryMs = options.retryMs ?? 1_000;
  return {
    onResultProcess({ request, result, setResultProcessor, serverContext }) {
      if (!isAsyncIterable(result) || !acceptsEventStream(request)) return;
      const response = (serverContext as { res?: ServerResponse } | undefined)?.res;
      setResultProcessor((stream, fetchAPI) => {
        const body = openStream(stream as AsyncIterable<ExecutionResult>, response);
        return new fetchAPI.Response(body as unknown as BodyInit, {
          status: 200,
          headers: HEADERS,
        });
      }, 'text/event-stream');
    },
  };

  /** The response body of one subscription: a Node stream that frames are pushed into. */
  function openStream(
    results: AsyncIterable<ExecutionResult>,
    response: ServerResponse | undefined,
  ) {
    const iterator = results[Symbol.asyncIterator]();
    const body = new Readable({ read() {} });
    let closed = false;
    let lastSeq: number | undefined;
    const buffered = () => body.readableLength + (response?.writableLength ?? 0);
    const stopBeat = heartbeat.add(() => {
      if (!closed && buffered() === 0) body.push(PING);
    });
    const finish = () => {
      if (closed) return;
      closed = true;
      stopBeat();
      void Promise.resolve(iterator.return?.()).catch(() => {});
    };
    body.once('close', finish);
    const retry = retryMs + Math.floor(Math.random() * retryMs);
    // Comment first: some browsers show nothing until the first bytes of the body arrive.
    body.push(`:\nretry: ${retry}\n\n`);

    const drop = (bytes: number) => {
      options.onDrop?.(bytes);
      body.push(slowConsumerFrame(bytes, lastSeq));
      body.push(COMPLETE);
      body.push(null);
      finish();
      const cut = setTimeout(() => {
        if (response && !response.writableFinished) response.destroy();
      }, dropGraceMs);
      cut.unref();
      response?.once('close', () => clearTimeout(cut));
    };

    const pump = async () => {
      for (;;) {
        const item = await iterator.next();
        if (closed) return;
        if (item.done) break;
        const bytes = buffered();
        if (bytes > maxBufferedBytes) {
          drop(bytes);
          return;
        }
        body.push(eventFrame(item.value, maxResponseBytes));
        lastSeq = eventSeqOf(item.value) ?? lastSeq;
      }
      body.push(COMPLETE);
      body.push(null);
      finish();
    };
    pump().catch((error: unknown) => {
      options.onError?.(error);
      if (closed) return;
      body.push(
        `event: next\ndata: ${JSON.stringify({
          errors: [
            {
              message: 'Unexpected error: the subscription ended. Resubscribe to continue.',
              extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
            },
          ],
        })}\n\n`,
      );
      body.push(COMPLETE);
      body.push(null);
      finish();
    });
    return body;
  }
}
