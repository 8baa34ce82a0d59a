/**
 * The Pothos schema builder: plugins in one declared order, scalar and context types, and the
 * connection sizing rules every list in the API shares.
 */
import SchemaBuilder, { type ObjectRef } from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import DrizzlePlugin from '@pothos/plugin-drizzle';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { getTableConfig } from 'drizzle-orm/pg-core';
import { encodeGlobalId } from './codecs.js';
import type { Context } from './context.js';
import { PAGE_ITEMS_COMPLEXITY, PLAIN_LIST_COMPLEXITY, textComplexity } from './cost.js';
import { decodeGlobalId } from './db/global-ids.js';
import { type Relations, relations } from './db/relations.js';
import { ForbiddenError, UnauthenticatedError } from './errors.js';
import { limitedTo } from './input-limits.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './paging.js';
import { globalId, pagePart } from './plan/metadata.js';
import { authScopesOf } from './scopes.js';

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
      extensions: globalId(),
    },
    edgesFieldOptions: {
      description: 'The items of this page, each with its cursor.',
      complexity: PAGE_ITEMS_COMPLEXITY,
      extensions: pagePart('edges'),
    },
    pageInfoFieldOptions: {
      description: 'Where this page sits, and cursors to its neighbours.',
      extensions: pagePart('pageInfo'),
    },
    cursorFieldOptions: {
      description: 'Opaque position of this item; pass it as `after` or `before`.',
      // A cursor holds the row's ordering values, a name among them: up to 2,600 bytes.
      complexity: textComplexity('cursor'),
      extensions: pagePart('cursor'),
    },
    nodeFieldOptions: { description: 'The item.', extensions: pagePart('node') },
    hasNextPageFieldOptions: {
      description:
        'True when items follow this page (when paging backwards: true if `before` was given).',
      extensions: pagePart('hasNextPage'),
    },
    hasPreviousPageFieldOptions: {
      description:
        'True when items precede this page (when paging forwards: true if `after` was given).',
      extensions: pagePart('hasPreviousPage'),
    },
    startCursorFieldOptions: {
      description: 'Cursor of the first item of the page; null when empty.',
      complexity: textComplexity('cursor'),
      extensions: pagePart('startCursor'),
    },
    endCursorFieldOptions: {
      description: 'Cursor of the last item of the page; null when empty.',
      complexity: textComplexity('cursor'),
      extensions: pagePart('endCursor'),
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
          extensions: pagePart('totalCount'),
          resolve: (connection) => resolveTotalCount(connection),
        }),
      }),
    },
    { name: `${name}Edge`, description: `One of the ${plural} of a page, with its cursor.` },
  );
}

/** The builder's full schema types (PothosTypes with Pothos' defaults filled in). */
type BuilderTypes = PothosSchemaTypes.ExtendDefaultTypes<PothosTypes>;
