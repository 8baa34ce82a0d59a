/**
 * The live feed: `policyDecisionUpdated` for one chip over Server-Sent Events (graphql-sse,
 * distinct connections), resumed after any disconnect from the last `eventCursor` received, so
 * nothing committed meanwhile is missed or shown twice (the gateway replays up to 100 events).
 *
 * A stream can end four ways: the network drops (or the gateway restarts), the gateway ends it
 * with SLOW_CONSUMER or DATABASE_UNAVAILABLE (resume from `extensions.resumeAfter`), the
 * gateway refuses it (a bad or too old cursor, a limit: resuming would be refused again, so the
 * feed stops and says why), or the page stops it.
 */
import { NetworkError, type Client as SseClient } from 'graphql-sse';
import { documents } from './documents.js';

/** A status change of a decision, as the feed selects it. */
export interface FeedUpdate {
  id: string;
  eventCursor: string;
  fromStatus: string | null;
  toStatus: string;
  note: string | null;
  /** ISO date-time of the change. */
  occurredAt: string;
  decision: { slug: string; title: string; jurisdiction: string };
}

/** Where the feed stands: connecting, live, waiting to resume, or stopped (with the reason). */
export type FeedState =
  | { state: 'connecting' }
  | { state: 'live'; resumedAfter: string | null }
  | { state: 'reconnecting'; after: string | null }
  | { state: 'stopped'; reason: string };

/** What `startFeed` needs: the SSE client, the chip, and what to tell the page. */
export interface FeedOptions {
  client: SseClient;
  chip: string;
  onUpdate(update: FeedUpdate): void;
  onState(state: FeedState): void;
  /** Milliseconds before resuming after a disconnect (default 1,000 to 2,000, drawn each time). */
  retryDelayMs?: () => number;
}

/** Codes after which resuming works (the gateway ended the stream, not the request). */
const RESUMABLE = new Set(['SLOW_CONSUMER', 'DATABASE_UNAVAILABLE']);

interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; resumeAfter?: string };
}

/** Starts the feed; returns a function that stops it. */
export function startFeed(options: FeedOptions): () => void {
  const delay = options.retryDelayMs ?? (() => 1_000 + Math.random() * 1_000);
  let after: string | null = null;
  let stopped = false;
  let unsubscribe: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const stop = (reason: string) => {
    stopped = true;
    unsubscribe?.();
    clearTimeout(timer);
    options.onState({ state: 'stopped', reason });
  };
  const resumeLater = () => {
    if (stopped) return;
    options.onState({ state: 'reconnecting', after });
    clearTimeout(timer);
    timer = setTimeout(connect, delay());
  };
  function connect() {
    if (stopped) return;
    const resumedAfter = after;
    let refused = false;
    options.onState({ state: 'connecting' });
    unsubscribe = options.client.subscribe<{ policyDecisionUpdated: FeedUpdate }>(
      // The gateway runs the registered document with this id; no query text is sent.
      {
        query: '',
        documentId: documents.DashboardFeed.id,
        variables: { chip: options.chip, after: resumedAfter },
      } as unknown as { query: string },
      {
        next(result) {
          const update = result.data?.policyDecisionUpdated;
          if (update) {
            after = update.eventCursor;
            options.onUpdate(update);
            return;
          }
          const error = (result.errors as readonly GraphQLErrorShape[] | undefined)?.[0];
          const code = error?.extensions?.code;
          if (code && RESUMABLE.has(code)) {
            after = error?.extensions?.resumeAfter ?? after;
            return; // "complete" follows: resume then
          }
          refused = true;
          stop(`${code ?? 'ERROR'}: ${error?.message ?? 'the gateway refused the feed'}`);
        },
        error(error) {
          // A dropped connection, a restarting gateway, or an HTTP refusal before the stream.
          const status = error instanceof NetworkError ? error.response?.status : undefined;
          if (
            status !== undefined &&
            status >= 400 &&
            status < 500 &&
            status !== 408 &&
            status !== 429
          ) {
            stop(`the gateway refused the feed: HTTP ${status}`);
          } else {
            resumeLater();
          }
        },
        complete() {
          if (!refused) resumeLater();
        },
      },
      {
        connected: () => options.onState({ state: 'live', resumedAfter }),
      },
    );
  }
  connect();
  return () => stop('stopped by the page');
}
