/**
 * Executes each event once per distinct subscription, not once per subscriber.
 *
 * Dashboards run fixed operations: a thousand browsers may hold the same
 * `policyDecisionUpdated` subscription with the same variables. graphql-js would resolve the
 * selection (and load its rows) a thousand times per event; this envelop plugin runs the
 * source stream as usual (so filters and cursors stay per subscriber), then shares one
 * execution per (event, operation, variables, viewer) among the subscribers that received the
 * same event object from the hub. Results are read-only afterwards: later plugins (error
 * masking) return new results rather than change them.
 */
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  print,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';

const documentKeys = new WeakMap<DocumentNode, string>();
const executions = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();

/** What makes two subscribers' executions of one event interchangeable. */
function executionKey(args: ExecutionArgs): string {
  let document = documentKeys.get(args.document);
  if (document === undefined) {
    document = print(args.document);
    documentKeys.set(args.document, document);
  }
  const viewer = (args.contextValue as Context | undefined)?.viewer;
  return [
    document,
    args.operationName ?? '',
    JSON.stringify(args.variableValues ?? {}),
    JSON.stringify(viewer ?? null),
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

/** Maps an async iterator; `return()` and `throw()` go straight to the source. */
function mapIterator<T, U>(
  source: AsyncIterator<T>,
  map: (value: T) => Promise<U>,
): AsyncIterableIterator<U> {
  return {
    async next() {
      const item = await source.next();
      if (item.done) return { value: undefined, done: true };
      return { value: await map(item.value), done: false };
    },
    async return() {
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * The envelop plugin; see the module comment. `run` executes one event (default: graphql-js
 * `execute`; the planner's when reads are planned).
 */
export function useSharedSubscriptionExecution(
  run: (args: ExecutionArgs) => Promise<ExecutionResult> | ExecutionResult = execute,
): Plugin<Context> {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const source = await createSourceEventStream(args);
        if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
        const key = executionKey(args);
        const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        return mapIterator(iterator, (event) =>
          sharedExecute(event, key, async () => run({ ...args, rootValue: event })),
        );
      });
    },
  };
}
