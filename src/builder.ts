/**
 * The Pothos schema builder: plugins in one declared order, scalar and context types, and the
 * connection sizing rules every list in the API shares.
 */
import SchemaBuilder, { type ObjectRef } from '@pothos/core';
import ComplexityPlugin, { complexityFromQuery } from '@pothos/plugin-complexity';
import DrizzlePlugin from '@pothos/plugin-drizzle';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { getTableConfig } from 'drizzle-orm/pg-core';
import {
  type DocumentNode,
  type ExecutionArgs,
  GraphQLError,
  getOperationAST,
  getVariableValues,
  Kind,
} from 'graphql';
import { authScopesOf } from './access/scopes.js';
import { encodeGlobalId } from './codecs.js';
import type { Context } from './context.js';
import { PAGE_ITEMS_COMPLEXITY, PLAIN_LIST_COMPLEXITY, textComplexity } from './cost.js';
import { decodeGlobalId } from './db/global-ids.js';
import { type Relations, relations } from './db/relations.js';
import {
  BadUserInputError,
  ForbiddenError,
  QueryTooComplexError,
  UnauthenticatedError,
} from './errors.js';
import { inputLimitError, limitedTo } from './schema/limits.js';

/** Page size when a connection is given neither `first` nor `last`. */
export const DEFAULT_PAGE_SIZE = 20;
/** Largest `first`/`last` a connection accepts; larger is a `BAD_USER_INPUT` error. */
export const MAX_PAGE_SIZE = 100;

/** Pothos' type parameters for chipgate. */
export interface PothosTypes {
  Context: Context;
  DrizzleRelations: Relations;
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
  /** Scopes a field can demand (`authScopes: { write: true }`); see `scopeAuth` below. */
  AuthScopes: { write: boolean };
  Scalars: {
    ID: { Input: string; Output: string | number };
    Date: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date | string };
    Decimal: { Input: string; Output: string };
    CountryCode: { Input: string; Output: string };
    URL: { Input: string; Output: string };
  };
}

/** Relay pagination arguments as they reach resolvers. */
export interface ConnectionArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

/**
 * Checks page sizes against the contract: `first`/`last` non-negative, at most
 * `MAX_PAGE_SIZE`, not both. Throws `BadUserInputError`. Returns the page size.
 */
export function pageSize(args: ConnectionArgs): number {
  const { first, last } = args;
  if (first != null && last != null) {
    throw new BadUserInputError('Pass either "first" or "last", not both.');
  }
  for (const [name, value] of [
    ['first', first],
    ['last', last],
  ] as const) {
    if (value != null && (value < 0 || value > MAX_PAGE_SIZE)) {
      throw new BadUserInputError(
        `Argument "${name}" must be between 0 and ${MAX_PAGE_SIZE}, got ${value}.`,
      );
    }
  }
  return first ?? last ?? DEFAULT_PAGE_SIZE;
}

/** The `QUERY_TOO_COMPLEX` error for an operation over its depth or cost limit. */
function tooComplex(
  kind: 'depth' | 'cost',
  result: { depth: number; complexity: number; maxDepth?: number; maxComplexity?: number },
): QueryTooComplexError {
  return new QueryTooComplexError(
    kind === 'depth'
      ? `Query is too deep: depth ${result.depth}, the limit is ${result.maxDepth}.`
      : `Query is too expensive: cost ${result.complexity}, the limit is ${result.maxComplexity}. ` +
          'Ask for smaller pages (first/last) or fewer nested connections.',
  );
}

/** Depth and cost of an operation, as the complexity limits judge them. */
export interface OperationComplexity {
  depth: number;
  complexity: number;
}

/**
 * Computed complexities by document, then by operation name and variables: partner dashboards
 * send the same few operations with the same few variable sets, so a request seldom walks its
 * document again. A thrown error (a page size or cursor out of range) is kept too.
 */
const complexities = new WeakMap<DocumentNode, Map<string, OperationComplexity | GraphQLError>>();
const MAX_COMPLEXITIES_PER_DOCUMENT = 64;

/**
 * Depth and cost of the operation `args` selects, with its variables: the numbers the
 * complexity limits judge (the rule is in `src/cost.ts`: each field costs 1, a list multiplies
 * its selection by the most items it can return). Undefined when the document has no such
 * operation. Throws `BadUserInputError` for connection arguments out of range or cursors the
 * list did not issue.
 */
export function operationComplexity(
  args: Pick<ExecutionArgs, 'document' | 'operationName' | 'schema' | 'variableValues'> & {
    contextValue?: unknown;
  },
): OperationComplexity | undefined {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return undefined;
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  let byVariables = complexities.get(args.document);
  if (!byVariables) {
    byVariables = new Map();
    complexities.set(args.document, byVariables);
  }
  // A subscription resuming from an SSE `Last-Event-ID` costs as with `after:`.
  const resuming = (args.contextValue as { lastEventId?: string } | undefined)?.lastEventId;
  const key = `${args.operationName ?? ''}\u0000${JSON.stringify(variables)}\u0000${resuming === undefined ? '' : 'resume'}`;
  let result = byVariables.get(key);
  if (!result) {
    const fragments = args.document.definitions.filter(
      (definition) => definition.kind === Kind.FRAGMENT_DEFINITION,
    );
    try {
      result = complexityFromQuery(
        { kind: Kind.DOCUMENT, definitions: [operation, ...fragments] },
        { schema: args.schema, ctx: (args.contextValue ?? {}) as Context, variables },
      );
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      result = error;
    }
    if (byVariables.size >= MAX_COMPLEXITIES_PER_DOCUMENT) byVariables.clear();
    byVariables.set(key, result);
  }
  if (result instanceof GraphQLError) throw result;
  return result;
}

/**
 * Why an operation may not run, or undefined: its depth or cost over the limits
 * (`QUERY_TOO_COMPLEX`), a text argument over its length limit or a list argument over
 * `MAX_LIST_ARGUMENT` entries (`BAD_USER_INPUT`, see `inputLimitError`), or a page size or cursor the contract refuses (`BAD_USER_INPUT`, thrown
 * by the connections' complexity functions). Checked once per operation before
 * anything executes, so a refused operation runs no SQL at any depth, whichever path
 * (resolvers or planner) would run it. Variables that do not coerce are left to execution,
 * which reports them as usual.
 */
export function operationLimitError(args: ExecutionArgs): GraphQLError | undefined {
  const ctx = args.contextValue as Context;
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return undefined;
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  const coerced = getVariableValues(args.schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) return undefined;
  const inputError = inputLimitError(args.schema, args.document, operation, coerced.coerced);
  if (inputError) return inputError;
  let result: OperationComplexity | undefined;
  try {
    result = operationComplexity(args);
  } catch (error) {
    if (error instanceof GraphQLError) return error;
    throw error;
  }
  if (!result) return undefined;
  const limits = { maxDepth: ctx.limits.maxDepth, maxComplexity: ctx.limits.maxCost };
  if (result.depth > ctx.limits.maxDepth) return tooComplex('depth', { ...result, ...limits });
  if (result.complexity > ctx.limits.maxCost) return tooComplex('cost', { ...result, ...limits });
  return undefined;
}

export const builder = new SchemaBuilder<PothosTypes>({
  // Scope auth first, so its checks wrap every other plugin's resolver (Pothos' advice); the
  // errors plugin next, so typed results wrap the data plugins' resolvers.
  plugins: [ScopeAuthPlugin, ErrorsPlugin, ComplexityPlugin, RelayPlugin, DrizzlePlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => authScopesOf(ctx.viewer),
    // Auth failures are `errors[]` entries, never typed results: no key is UNAUTHENTICATED, a
    // key without the scope FORBIDDEN. (A bad key never gets this far: see `authenticate`.)
    unauthorizedError: (_parent, ctx, info) =>
      ctx.viewer.kind === 'anonymous'
        ? new UnauthenticatedError(
            `"${info.fieldName}" needs an API key with the "write" scope: send "Authorization: Bearer <key>".`,
          )
        : new ForbiddenError(
            `"${info.fieldName}" needs an API key with the "write" scope; this key has ${
              ctx.viewer.scopes.length ? ctx.viewer.scopes.map((s) => `"${s}"`).join(', ') : 'none'
            }.`,
          ),
  },
  errors: { defaultTypes: [] },
  complexity: {
    defaultComplexity: 1,
    // Lists that are not connections are short lists of at most PLAIN_LIST_MAX items, charged
    // for that many; connections, `nodes` and `news` set their own multiplier from arguments.
    defaultListMultiplier: PLAIN_LIST_COMPLEXITY.multiplier,
  },
  relay: {
    // One codec for both read paths: the resolvers' `id` fields and the planner encode with it.
    encodeGlobalID: (typename, id) => encodeGlobalId(typename, id),
    decodeGlobalID: (globalId) => decodeGlobalId(globalId),
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    brandLoadedObjects: true,
    firstArgOptions: {
      description: `Page size from the start (or after \`after\`): 0 to ${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}.`,
    },
    lastArgOptions: {
      description: `Page size from the end (or before \`before\`): 0 to ${MAX_PAGE_SIZE}. Not together with \`first\`.`,
    },
    afterArgOptions: {
      description: 'Return items after this cursor (an `endCursor` or edge `cursor` we issued).',
      extensions: limitedTo('cursor'),
    },
    beforeArgOptions: {
      description: 'Return items before this cursor (a `startCursor` or edge `cursor` we issued).',
      extensions: limitedTo('cursor'),
    },
    pageInfoTypeOptions: {
      description: 'Where a page sits in its connection, and the cursors to fetch its neighbours.',
    },
    nodeTypeOptions: {
      description:
        'An object with a global ID, which `Query.node` and `Query.nodes` fetch again. IDs are ' +
        'stable across environments and reseeds.',
    },
    idFieldOptions: {
      description: 'Global ID: base64 of `Type:key`, where the key is the slug (or row id).',
    },
    edgesFieldOptions: {
      description: 'The items of this page, each with its cursor.',
      complexity: PAGE_ITEMS_COMPLEXITY,
    },
    pageInfoFieldOptions: { description: 'Where this page sits, and cursors to its neighbours.' },
    cursorFieldOptions: {
      description: 'Opaque position of this item; pass it as `after` or `before`.',
      // A cursor holds the row's ordering values, a name among them: up to 2,600 bytes.
      complexity: textComplexity('cursor'),
    },
    nodeFieldOptions: { description: 'The item.' },
    hasNextPageFieldOptions: {
      description:
        'True when items follow this page (when paging backwards: true if `before` was given).',
    },
    hasPreviousPageFieldOptions: {
      description:
        'True when items precede this page (when paging forwards: true if `after` was given).',
    },
    startCursorFieldOptions: {
      description: 'Cursor of the first item of the page; null when empty.',
      complexity: textComplexity('cursor'),
    },
    endCursorFieldOptions: {
      description: 'Cursor of the last item of the page; null when empty.',
      complexity: textComplexity('cursor'),
    },
  },
  drizzle: {
    client: (ctx) => ctx.db,
    getTableConfig,
    relations,
    defaultConnectionSize: DEFAULT_PAGE_SIZE,
    maxConnectionSize: MAX_PAGE_SIZE,
  },
});

builder.queryType({
  description: 'Entry points for reading the AI-chip export story.',
});

builder.subscriptionType({
  description:
    'Live updates, in commit order, over Server-Sent Events or the `graphql-transport-ws` ' +
    'WebSocket protocol on `/graphql`. Every writer reaches subscribers (the API, batch jobs, ' +
    'plain SQL), on every gateway instance. Pass `after:` the last `eventCursor` you received ' +
    'to get what you missed while disconnected.',
});

/**
 * `totalCount` of a connection. Root connections carry it as a thunk (counted only when
 * selected), related connections as the value their parent query already selected.
 */
function resolveTotalCount(connection: object): number | Promise<number> {
  const value = (connection as { totalCount?: number | (() => number | Promise<number>) })
    .totalCount;
  return typeof value === 'function' ? value() : (value ?? 0);
}

/**
 * The connection type shared by every list of one node type (`<Type>Connection` with
 * `<Type>Edge`), with `totalCount`. `plural` names the items in descriptions.
 */
export function nodeConnection<Ref extends ObjectRef<BuilderTypes, unknown>>(
  type: Ref,
  name: string,
  plural: string,
) {
  return builder.connectionObject(
    {
      type,
      name: `${name}Connection`,
      description: `A page of ${plural}.`,
      fields: (t) => ({
        totalCount: t.int({
          description: `Number of ${plural} matching the arguments across all pages.`,
          resolve: (connection) => resolveTotalCount(connection),
        }),
      }),
    },
    { name: `${name}Edge`, description: `One of the ${plural} of a page, with its cursor.` },
  );
}

/** The builder's full schema types (PothosTypes with Pothos' defaults filled in). */
type BuilderTypes = PothosSchemaTypes.ExtendDefaultTypes<PothosTypes>;
