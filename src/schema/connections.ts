/**
 * Resolvers of the connections declared in `src/db/lists.ts`, for the old path (each field
 * resolved by its resolver; see `CHIPGATE_PLANNER`): root lists load their page with one
 * drizzle relational query planned from the selection; related lists add their page to the
 * parent's query. Both page by keyset with our own cursors, and count `totalCount` only when
 * it is selected (one statement per list and filter for all parents of a request).
 */
import { getSchemaConfig, queryFromInfo } from '@pothos/plugin-drizzle';
import type { GraphQLResolveInfo } from 'graphql';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { pageComplexity } from '../cost.js';
import { type CursorValues, encodeCursor } from '../db/cursors.js';
import {
  countRelated,
  countRoot,
  cursorScheme,
  decodeListCursor,
  findMany,
  type ListDeclaration,
  type ListOrder,
  linkedNodeColumn,
  linkedNodeOrder,
  listOrder,
  type PageRequest,
  pageWhere,
  pageWindow,
} from '../db/lists.js';
import { defineLoader } from '../loaders.js';
import { type ConnectionArgs, pageSize } from '../paging.js';
import { connection } from '../plan/metadata.js';

/** The arguments of a list field. */
export interface ListArgs extends ConnectionArgs {
  filter?: Record<string, unknown> | null;
  orderBy?: string | null;
}

/** A page request, checked and decoded. */
interface Page {
  size: number;
  order: ListOrder;
  backward: boolean;
  after?: CursorValues;
  before?: CursorValues;
}

/** Checks and decodes a list's paging arguments; throws `BadUserInputError`. */
export function pageOf(list: ListDeclaration, args: ListArgs): Page {
  const size = pageSize(args);
  return {
    size,
    order: listOrder(list, args.orderBy),
    backward: args.last != null,
    ...(args.after != null ? { after: decodeListCursor(list, 'after', args.after) } : {}),
    ...(args.before != null ? { before: decodeListCursor(list, 'before', args.before) } : {}),
  };
}

/**
 * Complexity of a list field: its page size multiplies the cost of its selection. The limits
 * pass walks the operation with its variables before anything runs, so a bad page size or a
 * foreign cursor at any depth is refused before any SQL is sent.
 */
export const listComplexity = (list: ListDeclaration) => (args: ListArgs) =>
  pageComplexity(pageOf(list, args).size);

/** The direction rows are read in: the order's, reversed when paging backwards. */
const directionOf = (page: Page) =>
  (page.order.direction === 'asc') !== page.backward ? 'asc' : 'desc';

/** drizzle's `orderBy` of a page: the order's columns, in `directionOf`. */
function orderByOf(page: Page) {
  return Object.fromEntries(page.order.keys.map((key) => [key.column, directionOf(page)]));
}

/** A Relay connection object built from one page of rows (at most `size + 1` of them). */
export interface ListConnection<Node> {
  edges: { cursor: string; node: Node; [field: string]: unknown }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
  /** `totalCount`, counted when the field is resolved. */
  totalCount: () => Promise<number>;
}

/**
 * The connection of a page: drops the look-ahead row, restores the list's order when paging
 * backwards, and gives each edge the cursor of its row's ordering values (`valuesOf`).
 */
export function connectionOf<Row, Node>(
  list: ListDeclaration,
  page: Page,
  rows: readonly Row[],
  valuesOf: (row: Row) => CursorValues,
  edgeOf: (row: Row) => { node: Node; [field: string]: unknown },
  totalCount: () => Promise<number>,
): ListConnection<Node> {
  const window = pageWindow(rows, pageRequestOf(page), 'read');
  const scheme = cursorScheme(list);
  const edges = window.rows.map((row) => ({
    ...edgeOf(row),
    cursor: encodeCursor(scheme, valuesOf(row)),
  }));
  return { edges, pageInfo: pageInfoOf(window, edges), totalCount };
}

/** A decoded page as the paging rule (`pageWindow`) sees it. */
export const pageRequestOf = (page: {
  size: number;
  backward: boolean;
  after?: unknown;
  before?: unknown;
}): PageRequest => ({
  size: page.size,
  backward: page.backward,
  after: page.after != null,
  before: page.before != null,
});

/** A page's `pageInfo`: the paging rule's flags (`pageWindow`) and its edges' first and last cursors. */
export function pageInfoOf(
  flags: { hasNextPage: boolean; hasPreviousPage: boolean },
  edges: readonly { cursor: string }[],
): ListConnection<unknown>['pageInfo'] {
  return {
    hasNextPage: flags.hasNextPage,
    hasPreviousPage: flags.hasPreviousPage,
    startCursor: edges[0]?.cursor ?? null,
    endCursor: edges.at(-1)?.cursor ?? null,
  };
}

/** The ordering values of a row, read by column name. */
const orderValues = (page: Page) => (row: Record<string, unknown>) =>
  page.order.keys.map((key) => row[key.column] as string | number);

/** Per request: `totalCount` of related lists, one statement per list and filter. */
const relatedCounts = defineLoader<
  { list: ListDeclaration; parentId: number; filter: Record<string, unknown> | null | undefined },
  number,
  Pick<Context, 'db'>
>({
  key: (key) => `${key.list.name}|${key.parentId}|${JSON.stringify(key.filter ?? null)}`,
  async batch(ctx, keys) {
    const groups = new Map<string, { keys: typeof keys; ids: Set<number> }>();
    for (const key of keys) {
      const group = `${key.list.name}|${JSON.stringify(key.filter ?? null)}`;
      const entry = groups.get(group) ?? { keys: [], ids: new Set() };
      (entry.keys as (typeof key)[]).push(key);
      entry.ids.add(key.parentId);
      groups.set(group, entry);
    }
    const counts = new Map<string, Map<number, number>>();
    await Promise.all(
      [...groups.entries()].map(async ([group, entry]) => {
        const first = entry.keys[0];
        if (!first) return;
        counts.set(group, await countRelated(ctx.db, first.list, [...entry.ids], first.filter));
      }),
    );
    return keys.map(
      (key) =>
        counts.get(`${key.list.name}|${JSON.stringify(key.filter ?? null)}`)?.get(key.parentId) ??
        0,
    );
  },
});

/**
 * A root list's page: one relational query planned from the selection under `edges.node`, with
 * the filter, the keyset and one look-ahead row; `totalCount` counted when selected.
 */
export async function rootListConnection<Node>(
  list: ListDeclaration,
  typeName: string,
  args: ListArgs,
  ctx: Context,
  info: GraphQLResolveInfo,
): Promise<ListConnection<Node>> {
  const page = pageOf(list, args);
  const query = queryFromInfo({
    config: getSchemaConfig(builder),
    context: ctx,
    info,
    typeName,
    path: ['edges', 'node'],
  }) as Record<string, unknown> & { columns?: Record<string, boolean> };
  const rows = await findMany(ctx.db, list.node, {
    ...query,
    columns: { ...query.columns, ...orderColumns(page) },
    where: {
      RAW: (t: unknown) => pageWhere(list, page.order, t, args.filter, page.after, page.before),
    },
    orderBy: orderByOf(page),
    limit: page.size + 1,
  });
  return connectionOf(
    list,
    page,
    rows,
    orderValues(page),
    (row) => ({ node: row as Node }),
    () => countRoot(ctx.db, list, args.filter),
  );
}

/** The ordering columns a page selects, for its cursors. */
const orderColumns = (page: Page) =>
  Object.fromEntries(page.order.keys.map((key) => [key.column, true]));

/** The nested-selection callback Pothos hands a drizzle field's `select`. */
type NestedSelection = (selection: Record<string, unknown>, path?: string[]) => unknown;

/**
 * The parent query's part for a related list: the relation's page (filter, keyset, order, one
 * look-ahead row) with the selection under `edges.node`, and the parent's id for `totalCount`.
 * Link lists load their link rows (the edge's fields) with the node beneath, ordered by the
 * node's columns (`node_<column>` extras).
 */
export function relatedListSelect(
  list: ListDeclaration,
  args: ListArgs,
  nestedSelection: NestedSelection,
) {
  const parent = list.parent;
  if (!parent) throw new Error(`${list.name} is not a related list`);
  const page = pageOf(list, args);
  const where = {
    RAW: (t: unknown) => pageWhere(list, page.order, t, args.filter, page.after, page.before),
  };
  if (list.link) {
    return {
      columns: { id: true },
      with: {
        [parent.relation]: {
          extras: Object.fromEntries(
            page.order.keys.map((key) => [
              `node${key.column[0]?.toUpperCase()}${key.column.slice(1)}`,
              (linkRow: unknown) =>
                linkedNodeColumn(list, key.column, linkRow as Record<string, unknown>),
            ]),
          ),
          where,
          orderBy: (linkRow: unknown) =>
            linkedNodeOrder(
              list,
              page.order,
              directionOf(page),
              linkRow as Record<string, unknown>,
            ),
          limit: page.size + 1,
          with: { [list.link.node]: nestedSelection({}, ['edges', 'node']) },
        },
      },
    };
  }
  return {
    columns: { id: true },
    with: {
      [parent.relation]: nestedSelection(
        { columns: orderColumns(page), where, orderBy: orderByOf(page), limit: page.size + 1 },
        ['edges', 'node'],
      ),
    },
  };
}

/** The connection of a related list from the rows its `select` loaded on the parent. */
export function relatedListConnection<Node>(
  list: ListDeclaration,
  parent: object,
  args: ListArgs,
  ctx: Context,
): ListConnection<Node> {
  const relation = list.parent?.relation;
  if (!relation) throw new Error(`${list.name} is not a related list`);
  const page = pageOf(list, args);
  const row = parent as Record<string, unknown>;
  const rows = (row[relation] ?? []) as Record<string, unknown>[];
  const parentId = row.id as number;
  const totalCount = () => ctx.loaders.load(relatedCounts, { list, parentId, filter: args.filter });
  if (list.link) {
    const nodeRelation = list.link.node;
    return connectionOf(
      list,
      page,
      rows,
      (link) =>
        page.order.keys.map(
          (key) =>
            link[`node${key.column[0]?.toUpperCase()}${key.column.slice(1)}`] as string | number,
        ),
      (link) => ({ ...link, node: link[nodeRelation] as Node }),
      totalCount,
    );
  }
  return connectionOf(
    list,
    page,
    rows,
    orderValues(page),
    (node) => ({ node: node as Node }),
    totalCount,
  );
}

/**
 * The options of a related list's connection field (`t.connection` on a table-backed type),
 * from the list's declaration alone: its complexity, the drizzle `select` that loads its page
 * with the parent, its resolver (old path) and its plan (planned path). `Node` is the row type
 * of its items.
 */
export function relatedList<Node>(list: ListDeclaration) {
  return {
    complexity: listComplexity(list),
    extensions: connection(list),
    select: (args: ListArgs, _ctx: unknown, nestedSelection: NestedSelection) =>
      relatedListSelect(list, args, nestedSelection),
    resolve: (parent: object, args: ListArgs, ctx: Context) =>
      relatedListConnection<Node>(list, parent, args, ctx),
  };
}

/**
 * The options of a root list's connection field, from the list's declaration and the GraphQL
 * name of its items' type: complexity, resolver (old path) and plan (planned path).
 */
export function rootList<Node>(list: ListDeclaration, typeName: string) {
  return {
    complexity: listComplexity(list),
    extensions: connection(list),
    resolve: (_root: unknown, args: ListArgs, ctx: Context, info: GraphQLResolveInfo) =>
      rootListConnection<Node>(list, typeName, args, ctx, info),
  };
}
