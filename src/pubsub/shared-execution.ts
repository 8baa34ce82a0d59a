/**
 * Executes each event once per distinct subscription, not once per subscriber.
 *
 * Dashboards run fixed operations: a thousand browsers may hold the same
 * `policyDecisionUpdated` subscription with the same variables. graphql-js would resolve the
 * selection (and load its rows) a thousand times per event; this envelop plugin runs the
 * source stream as usual (so filters and cursors stay per subscriber), then shares one
 * execution per (event, operation, variables, viewer facts: kind and scopes, not the key) among the subscribers that received the
 * same event object from the hub. Results are read-only afterwards: later plugins (error
 * masking) return new results rather than change them.
 */
import { mapAsyncIterator } from '@graphql-tools/utils';
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  GraphQLError,
  print,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Viewer } from '../auth.js';
import { encodeEventCursor } from '../codecs.js';
import { isDatabaseUnavailable } from '../db/availability.js';
import { ErrorCode } from '../errors.js';
import { tagEventSeq } from '../live/results.js';
import { resultFactsOf } from '../scopes.js';

const documentKeys = new WeakMap<DocumentNode, string>();
const executions = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();

/**
 * What makes two subscribers' executions of one event interchangeable (their cohort): the same
 * operation, variables and result-changing viewer facts (`resultFactsOf`).
 */
function executionKey(args: ExecutionArgs): string {
  let document = documentKeys.get(args.document);
  if (document === undefined) {
    document = print(args.document);
    documentKeys.set(args.document, document);
  }
  const viewer = (args.contextValue as { viewer?: Viewer } | undefined)?.viewer;
  return [
    document,
    args.operationName ?? '',
    JSON.stringify(args.variableValues ?? {}),
    // Not the key itself: keys with the same scopes are one cohort.
    resultFactsOf(viewer),
  ].join('\u0000');
}

function sharedExecute(event: unknown, key: string, run: () => Promise<ExecutionResult>) {
  if (typeof event !== 'object' || event === null) return run();
  let byKey = executions.get(event);
  if (!byKey) {
    byKey = new Map();
    executions.set(event, byKey);
  }
  let result = byKey.get(key);
  if (!result) {
    result = run();
    byKey.set(key, result);
  }
  return result;
}

/** Pauses between attempts at an event whose read failed because the database was away. */
const RETRY_PAUSES_MS = [50, 100, 200, 400, 800, 1_000];

/** The results that end a subscription because its event could not be read (see below). */
const unreadable = new WeakSet<ExecutionResult>();

/**
 * Executes one event; when its read fails because the database is unavailable (the execution's
 * errors say so, see `isDatabaseUnavailable`), tries again for up to `retryWithinMs` after the
 * first failure. If it still fails, the answer is a `DATABASE_UNAVAILABLE` error whose
 * `extensions.resumeAfter` is the cursor just before this event (resubscribing with
 * `after:` it delivers this event first, and nothing twice), and the subscription ends: an
 * error in place of an event would lose it for a client that carries on.
 */
async function executeEvent(
  event: unknown,
  run: () => Promise<ExecutionResult> | ExecutionResult,
  retryWithinMs: number,
): Promise<ExecutionResult> {
  const seq = (event as { seq?: unknown } | null)?.seq;
  const attempt = async (): Promise<ExecutionResult> => {
    try {
      return await run();
    } catch (error) {
      // A planned read may reject rather than answer errors: the same condition.
      if (typeof seq === 'number' && isDatabaseUnavailable(error)) {
        return {
          errors: [
            error instanceof GraphQLError
              ? error
              : new GraphQLError('', { originalError: error as Error }),
          ],
        };
      }
      throw error;
    }
  };
  let result = await attempt();
  if (typeof seq !== 'number') return result;
  // Transports build the event's frame once per result (src/live/results.ts).
  if (!unavailable(result)) return tagEventSeq(result, seq);
  const deadline = performance.now() + retryWithinMs;
  for (let tries = 0; performance.now() < deadline; tries++) {
    const pause = RETRY_PAUSES_MS[Math.min(tries, RETRY_PAUSES_MS.length - 1)] ?? 1_000;
    await new Promise((resolve) => setTimeout(resolve, pause));
    result = await attempt();
    if (!unavailable(result)) return tagEventSeq(result, seq);
  }
  const failed: ExecutionResult = {
    data: null,
    errors: [
      new GraphQLError(
        'The database is unavailable: this event could not be read, and the subscription ends ' +
          'so that it is not lost. Resubscribe with `after: extensions.resumeAfter` to receive ' +
          'it and what followed.',
        {
          extensions: {
            code: ErrorCode.DATABASE_UNAVAILABLE,
            resumeAfter: encodeEventCursor(seq - 1),
          },
        },
      ),
    ],
  };
  unreadable.add(failed);
  return failed;
}

/** Whether an execution failed because the database was unavailable. */
const unavailable = (result: ExecutionResult): boolean =>
  result.errors?.some((error) => isDatabaseUnavailable(error)) ?? false;

/**
 * The envelop plugin; see the module comment. `run` executes one event (default: graphql-js
 * `execute`; the planner's when reads are planned); an event whose read fails because the
 * database is away is retried for up to `retryWithinMs` (see `executeEvent`).
 */
export function useSharedSubscriptionExecution(
  run: (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult = execute,
  retryWithinMs = 5_000,
): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const source = await createSourceEventStream(args);
        if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
        const key = executionKey(args);
        const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        return mapAsyncIterator(iterator, async (event) => {
          const result = await sharedExecute(event, key, () =>
            executeEvent(event, () => run({ ...args, rootValue: event }), retryWithinMs),
          );
          // An unreadable event is the subscription's last result: its source ends behind it.
          if (unreadable.has(result)) await iterator.return?.();
          return result;
        });
      });
    },
  };
}
