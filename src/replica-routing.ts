/**
 * Read-your-writes over read replicas: the envelop plugin that routes each operation's reads
 * (see `src/db/replicas.ts` for how a replica is chosen).
 *
 * - A mutation runs on the primary. When it has run, the primary's WAL position is its
 *   consistency token: sent back in the `chipgate-consistency-token` response header and in
 *   `extensions.consistencyToken` (only when replicas are configured).
 * - A query runs on a replica (its context's `db` is swapped before it executes; the planner
 *   and the resolvers read `ctx.db`). A query that sends a token in the
 *   `chipgate-consistency-token` request header runs on a replica only once that replica has
 *   replayed it (waiting at most `CHIPGATE_REPLICA_WAIT_MS`), else on the primary. A query
 *   that selects `viewer` (the key's own limits and usage) runs on the primary, as key checks
 *   do. A malformed token is refused with HTTP 400 and `BAD_CONSISTENCY_TOKEN`, with or without
 *   replicas.
 * - A query whose replica turns out unreachable while it runs is run again on the primary, and
 *   that replica leaves the rotation.
 * - A subscription event is read (`routeEvent`) on a replica that has replayed the position the
 *   event hub read after loading the event, so an event never shows older data than itself;
 *   events without one (replays after `after:`) are read on the primary.
 */
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  getOperationAST,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from './context.js';
import { isDatabaseUnavailable } from './db/availability.js';
import type { Database } from './db/client.js';
import { parseLsn, type ReadReplicas } from './db/replicas.js';
import { ErrorCode } from './errors.js';
import { Loaders } from './loaders.js';

/** The request and response header that carries a consistency token. */
export const CONSISTENCY_TOKEN_HEADER = 'chipgate-consistency-token';

/** The consistency token a request sent, parsed; undefined when it sent none. */
function requestToken(request: Request | undefined): bigint | undefined {
  const text = request?.headers.get(CONSISTENCY_TOKEN_HEADER);
  if (text === null || text === undefined || text.trim() === '') return undefined;
  return parseLsn(text.trim());
}

/** The 400 of a malformed token. */
function badToken() {
  return createGraphQLError(
    `The ${CONSISTENCY_TOKEN_HEADER} header must be a consistency token as a mutation returned ` +
      'it (a WAL position such as 0/3000148).',
    { extensions: { code: ErrorCode.BAD_CONSISTENCY_TOKEN, http: { status: 400 } } },
  );
}

/** Whether the operation's root selection (through fragments) selects `field`. */
function selectsRootField(document: DocumentNode, selection: SelectionSetNode, field: string) {
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode): boolean =>
    set.selections.some((node) => {
      if (node.kind === Kind.FIELD) return node.name.value === field;
      if (node.kind === Kind.INLINE_FRAGMENT) return walk(node.selectionSet);
      if (seen.has(node.name.value)) return false;
      seen.add(node.name.value);
      const fragment = document.definitions.find(
        (definition) =>
          definition.kind === Kind.FRAGMENT_DEFINITION && definition.name.value === node.name.value,
      );
      return fragment?.kind === Kind.FRAGMENT_DEFINITION ? walk(fragment.selectionSet) : false;
    });
  return walk(selection);
}

type Execute = (args: ExecutionArgs) => unknown;

/**
 * The plugin; see the module comment. `replicas` undefined: no replicas, everything reads the
 * primary (tokens are still checked for form, and no token is issued).
 */
export function useReplicaRouting(
  replicas: ReadReplicas | undefined,
  primary: Database,
): Plugin<Context> {
  const tokens = new WeakMap<Request, string>();
  return {
    onParams({ request }) {
      const text = request.headers.get(CONSISTENCY_TOKEN_HEADER);
      if (text !== null && text.trim() !== '' && requestToken(request) === undefined) {
        throw badToken();
      }
    },
    async onExecute({ args, executeFn, setExecuteFn }) {
      if (!replicas) return;
      const context = args.contextValue as Context & { request?: Request };
      const operation = getOperationAST(args.document, args.operationName);
      if (!operation) return;
      if (operation.operation === 'mutation') {
        context.db = primary;
        setExecuteFn(async (executionArgs: ExecutionArgs) => {
          const result = (await executeFn(executionArgs)) as ExecutionResult;
          if (isAsyncIterable(result)) return result;
          // Read after every write of the mutation committed: at least its commit's position.
          const token = await replicas.position().catch(() => undefined);
          if (token === undefined) return result;
          if (context.request) tokens.set(context.request, token);
          return { ...result, extensions: { ...result.extensions, consistencyToken: token } };
        });
        return;
      }
      if (operation.operation !== 'query') return;
      if (selectsRootField(args.document, operation.selectionSet, 'viewer')) {
        context.db = primary;
        return;
      }
      const route = await replicas.route(requestToken(context.request));
      context.db = route.db;
      if (route.target === 'primary') return;
      setExecuteFn(async (executionArgs: ExecutionArgs) => {
        const again = async () => {
          replicas.markUnavailable(route.target);
          context.db = primary;
          // Loaders may hold the failed reads: start afresh on the primary.
          context.loaders = new Loaders(() => context);
          return (executeFn as Execute)(executionArgs);
        };
        let result: unknown;
        try {
          result = await (executeFn as Execute)(executionArgs);
        } catch (error) {
          if (isDatabaseUnavailable(error)) return again();
          throw error;
        }
        if (
          !isAsyncIterable(result) &&
          (result as ExecutionResult).errors?.some((error) => isDatabaseUnavailable(error))
        ) {
          return again();
        }
        return result;
      });
    },
    onResponse({ request, response }) {
      const token = tokens.get(request);
      if (token) response.headers.set(CONSISTENCY_TOKEN_HEADER, token);
    },
  };
}

/**
 * Routes a subscription event's read (see the module comment): sets `context.db` to a replica
 * that has replayed the event's `lsn`, or to the primary.
 */
export async function routeEvent(
  replicas: ReadReplicas,
  primary: Database,
  context: Context,
  event: unknown,
): Promise<void> {
  const lsn = (event as { lsn?: unknown } | null)?.lsn;
  const position = typeof lsn === 'string' ? parseLsn(lsn) : undefined;
  if (position === undefined) {
    context.db = primary;
    return;
  }
  context.db = (await replicas.route(position)).db;
}
