/**
 * Planning connections (declared in `src/db/lists.ts`) and the timeline: one page read in
 * order with one look-ahead row (keyset after/before, the filter as bound parameters), its
 * `totalCount` only when asked for, and the shaping into `edges`, `pageInfo` and `totalCount`
 * as the resolvers build them.
 */
import type { Placeholder, SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { FieldNode, GraphQLField, GraphQLObjectType, GraphQLUnionType } from 'graphql';
import { getNamedType } from 'graphql';
import { type CursorScheme, type CursorValues, decodeCursor, encodeCursor } from '../db/cursors.js';
import type { AnyFilter, FilterField } from '../db/filter-kit.js';
import {
  cursorScheme,
  decodeListCursor,
  type ListDeclaration,
  listOrder,
  type PageRequest,
  pageWindow,
} from '../db/lists.js';
import { PAGE_SLOTS, TIMELINE_ITEM_SLOTS } from '../db/plan-layout.js';
import {
  type AliasedRow,
  connectionAliases,
  connectionJson,
  edgeColumnJson,
  jsonArray,
} from '../db/plan-sql.js';
import { TIMELINE_TABLES, timelineAliases, timelineJson } from '../db/plan-sql-special.js';
import { TIMELINE_CURSOR, type TimelineFilterValue } from '../db/timeline.js';
import { pageSize } from '../paging.js';
import { subSelections } from './collect.js';
import {
  argsAt,
  type Bind,
  memo,
  type Planning,
  type Row,
  RowBuilder,
  type StatementScope,
  Unplannable,
} from './core.js';
import { fieldPlan, type PagePart, typePlan } from './metadata.js';
import {
  at,
  computedShaper,
  constantShaper,
  deferred,
  objectShaper,
  type Shaper,
  Unplanned,
  wrapShaper,
} from './shapes.js';

/** The page of a connection as the shaper sees it. */
interface Page {
  items: readonly Row[];
  total: number;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** A planned connection: its SQL and the shaper of `[items, totalCount]`. */
type PlannedList = { json: SQL; shape: Shaper<unknown, Bind> };

/** What the shaper needs of a request's page arguments at `node` (size, direction, cursors). */
function pageOf(node: FieldNode, backward: boolean) {
  return (bind: Bind) => {
    const current = argsAt(bind, node);
    return {
      size: pageSize(current),
      backward,
      after: current.after != null,
      before: current.before != null,
    };
  };
}

/** Placeholders for the values of a cursor argument, decoded once per request. */
function cursorParams(
  scope: StatementScope,
  count: number,
  decode: (bind: Bind) => CursorValues,
): Placeholder[] {
  return Array.from({ length: count }, (_, i) => scope.b.param((bind) => decode(bind)[i]));
}

/** The field of `type` that `nodes` select (undefined for `__typename`). */
const fieldAt = (type: GraphQLObjectType, nodes: readonly FieldNode[]) =>
  type.getFields()[(nodes[0] as FieldNode).name.value];

/** The page part a field plays (its declared `page` plan), if any. */
function partOf(field: GraphQLField<unknown, unknown> | undefined): PagePart | undefined {
  const plan = field && fieldPlan(field);
  return plan?.kind === 'page' ? plan.part : undefined;
}

/** The field of `type` that plays `part` (an edge's `node`, a connection's `edges`). */
function partField(type: GraphQLObjectType, part: PagePart): GraphQLField<unknown, unknown> {
  const field = Object.values(type.getFields()).find((candidate) => partOf(candidate) === part);
  if (!field) throw new Unplannable(`${type.name} has no ${part}`);
  return field;
}

/** The parts that are cursors (an edge's, the page info's first and last). */
const CURSOR_PARTS: ReadonlySet<PagePart | undefined> = new Set([
  'cursor',
  'startCursor',
  'endCursor',
]);

/** Whether a connection selection asks for any cursor (edges' or pageInfo's). */
function selectsCursors(
  planner: Planning,
  connectionType: GraphQLObjectType,
  selection: Map<string, FieldNode[]>,
): boolean {
  for (const nodes of selection.values()) {
    const field = fieldAt(connectionType, nodes);
    const part = partOf(field);
    if (!field || (part !== 'edges' && part !== 'pageInfo')) continue;
    const type = planner.objectTypeOf(field.type);
    for (const subNodes of planner.fields(type, subSelections(nodes)).values()) {
      if (CURSOR_PARTS.has(partOf(fieldAt(type, subNodes)))) return true;
    }
  }
  return false;
}

/** Whether the selection asks for `totalCount`. */
const selectsTotal = (connectionType: GraphQLObjectType, selection: Map<string, FieldNode[]>) =>
  [...selection.values()].some((nodes) => partOf(fieldAt(connectionType, nodes)) === 'totalCount');

/** A connection of `list` (related to `parent`, or a root list when it is undefined). */
export function planConnection(
  planner: Planning,
  scope: StatementScope,
  field: GraphQLField<unknown, unknown>,
  list: ListDeclaration,
  parent: PgTable | undefined,
  nodes: FieldNode[],
  path: string,
): PlannedList {
  const node = nodes[0] as FieldNode;
  const args = planner.argsOf(node);
  const order = listOrder(list, args.orderBy as string | undefined);
  const backward = args.last != null;
  const cursor = (argument: 'after' | 'before') => (bind: Bind) =>
    memo(bind, `${argument}:${path}`, () =>
      decodeListCursor(list, argument, argsAt(bind, node)[argument] as string),
    );
  const keys = order.keys.length;
  const filterValue = args.filter as Record<string, unknown> | null | undefined;
  const filter = list.filter;
  const page = {
    order,
    backward,
    limit: scope.b.param((bind) => pageSize(argsAt(bind, node)) + 1),
    ...(args.after != null ? { after: cursorParams(scope, keys, cursor('after')) } : {}),
    ...(args.before != null ? { before: cursorParams(scope, keys, cursor('before')) } : {}),
    ...(filter && filterValue
      ? {
          filter: {
            filter,
            value: filterValue,
            params: filterParams(scope, node, filter, filterValue),
          },
        }
      : {}),
  };
  scope.tables.add(list.node);
  if (list.link) scope.tables.add(list.link.table);
  const connectionType = planner.objectTypeOf(field.type);
  const selection = planner.fields(connectionType, subSelections(nodes));
  const withCursors = selectsCursors(planner, connectionType, selection);
  const keyCount = withCursors ? keys : 0;
  const aliases = connectionAliases(scope.b, list, order, withCursors);
  const item = new RowBuilder(keyCount, withCursors ? order.keys.map((key) => key.column) : []);
  const edges = planEdges(
    planner,
    scope,
    item,
    connectionType,
    selection,
    aliases.node,
    (column) => edgeColumnJson(list, aliases, column),
    path,
    cursorScheme(list),
  );
  const withTotal = selectsTotal(connectionType, selection);
  const json = connectionJson(scope.b, list, parent, page, aliases, withTotal, item.slots);
  const shape = connectionShaper(
    planner,
    connectionType,
    selection,
    () => edges,
    pageOf(node, backward),
    keyCount,
    cursorScheme(list),
  );
  return { json, shape: wrapShaper(field.type, shape) };
}

/**
 * The placeholders of a list filter's fields set in `value` (plan time), each bound per
 * request to the field's SQL value (`FilterField.bind`) of the argument at `node`.
 */
function filterParams(
  scope: StatementScope,
  node: FieldNode,
  filter: AnyFilter,
  value: Record<string, unknown>,
): Record<string, Placeholder> {
  const params: Record<string, Placeholder> = {};
  for (const name of Object.keys(value)) {
    const field = filter.fields[name] as FilterField<unknown, unknown> | undefined;
    if (!field) continue;
    params[name] = scope.b.param((bind) =>
      field.bind((argsAt(bind, node).filter as Record<string, unknown>)[name]),
    );
  }
  return params;
}

/** Plans the `edges` of a connection selection over an item row; shapers by response key. */
function planEdges(
  planner: Planning,
  scope: StatementScope,
  item: RowBuilder,
  connectionType: GraphQLObjectType,
  selection: Map<string, FieldNode[]>,
  node: PgTable,
  edge: (column: string) => SQL,
  path: string,
  scheme: CursorScheme,
): Map<string, Shaper<Row, Bind>> {
  const shapes = new Map<string, Shaper<Row, Bind>>();
  const edgeType = planner.objectTypeOf(partField(connectionType, 'edges').type);
  for (const [key, nodes] of selection) {
    if (partOf(fieldAt(connectionType, nodes)) !== 'edges') continue;
    const parts: [string, Shaper<Row, Bind>][] = [];
    for (const [edgeKey, edgeNodes] of planner.fields(edgeType, subSelections(nodes))) {
      const field = fieldAt(edgeType, edgeNodes);
      const part = partOf(field);
      if (!field) parts.push([edgeKey, constantShaper(edgeType.name)]);
      else if (part === 'cursor') {
        const keys = item.offset;
        parts.push([
          edgeKey,
          computedShaper((values: Row) =>
            encodeCursor(scheme, values.slice(0, keys) as CursorValues),
          ),
        ]);
      } else if (part === 'node') {
        const nodeType = planner.objectTypeOf(field.type);
        const at_ = `${path}.${key}.${edgeKey}`;
        parts.push([
          edgeKey,
          planner.planObject(scope, item, nodeType, node, subSelections(edgeNodes), at_),
        ]);
      } else {
        const plan = fieldPlan(field);
        if (plan?.kind !== 'column') throw new Unplannable(`${edgeType.name}.${field.name}`);
        const index = item.add(`e:${plan.column}`, () => edge(plan.column));
        parts.push([
          edgeKey,
          at((values: Row) => values[index], planner.valueShaper(field.type, edgeNodes)),
        ]);
      }
    }
    shapes.set(key, objectShaper(parts, planner.mark(edgeType.name)));
  }
  return shapes;
}

/** A list of items shaped by `item` (never null: the items of a page). */
function itemsShaper(item: () => Shaper<Row, Bind> | undefined): Shaper<readonly Row[], Bind> {
  const shaper = deferred(item);
  return {
    value: (items, bind) => items.map((entry) => shaper.value(entry, bind)),
  };
}

/**
 * Shapes `[items, totalCount]` into a connection object: drops the look-ahead item, builds
 * edges and pageInfo as the resolvers do.
 */
function connectionShaper(
  planner: Planning,
  connectionType: GraphQLObjectType,
  selection: Map<string, FieldNode[]>,
  edgeShapes: () => Map<string, Shaper<Row, Bind>> | undefined,
  pageOf: (bind: Bind) => PageRequest,
  keyCount: number,
  scheme: CursorScheme,
): Shaper<unknown, Bind> {
  const parts: [string, Shaper<Page, Bind>][] = [];
  for (const [key, nodes] of selection) {
    const field = fieldAt(connectionType, nodes);
    const part = partOf(field);
    if (!field) parts.push([key, constantShaper(connectionType.name)]);
    else if (part === 'totalCount') parts.push([key, computedShaper((page: Page) => page.total)]);
    else if (part === 'edges') {
      parts.push([
        key,
        at(
          (page: Page) => page.items,
          itemsShaper(() => edgeShapes()?.get(key)),
        ),
      ]);
    } else if (part === 'pageInfo') {
      const pageInfoType = planner.objectTypeOf(field.type);
      const cursorOf = (item: Row | undefined) =>
        item ? encodeCursor(scheme, item.slice(0, keyCount) as CursorValues) : null;
      const infoParts = [...planner.fields(pageInfoType, subSelections(nodes))].map(
        ([infoKey, infoNodes]): [string, Shaper<Page, Bind>] => {
          const infoField = fieldAt(pageInfoType, infoNodes);
          if (!infoField) return [infoKey, constantShaper(pageInfoType.name)];
          switch (partOf(infoField)) {
            case 'hasNextPage':
              return [infoKey, computedShaper((page: Page) => page.hasNextPage)];
            case 'hasPreviousPage':
              return [infoKey, computedShaper((page: Page) => page.hasPreviousPage)];
            case 'startCursor':
              return [infoKey, computedShaper((page: Page) => cursorOf(page.items[0]))];
            case 'endCursor':
              return [infoKey, computedShaper((page: Page) => cursorOf(page.items.at(-1)))];
            default:
              throw new Unplannable(`${pageInfoType.name}.${infoField.name}`);
          }
        },
      );
      parts.push([key, objectShaper(infoParts, planner.mark(pageInfoType.name))]);
    } else throw new Unplannable(`${connectionType.name}.${field.name}`);
  }
  const toPage = (value: unknown, bind: Bind): Page => {
    const slots = value as Row;
    const items = slots[PAGE_SLOTS.items] as readonly Row[];
    const total = slots[PAGE_SLOTS.total] as number | null;
    // Items come in the list's order (the statement aggregates them so).
    const window = pageWindow(items, pageOf(bind), 'list');
    return {
      items: window.rows,
      total: total ?? 0,
      hasNextPage: window.hasNextPage,
      hasPreviousPage: window.hasPreviousPage,
    };
  };
  return at(toPage, objectShaper(parts, planner.mark(connectionType.name)));
}

/** `timeline`: one page of events, each kind's row with its selection. */
export function planTimeline(
  planner: Planning,
  scope: StatementScope,
  field: GraphQLField<unknown, unknown>,
  nodes: FieldNode[],
  path: string,
): PlannedList {
  const node = nodes[0] as FieldNode;
  const args = planner.argsOf(node);
  const backward = args.last != null;
  const cursor = (argument: 'after' | 'before') => (bind: Bind) =>
    memo(bind, `${argument}:${path}`, () =>
      decodeCursor(argument, argsAt(bind, node)[argument] as string, TIMELINE_CURSOR),
    );
  const keys = TIMELINE_CURSOR.shape.length;
  const connectionType = planner.objectTypeOf(field.type);
  const selection = planner.fields(connectionType, subSelections(nodes));
  const edgeType = planner.objectTypeOf(partField(connectionType, 'edges').type);
  const union = getNamedType(partField(edgeType, 'node').type) as GraphQLUnionType;
  // Each kind's row: every `node` selection of every `edges` key, for its member type.
  const kindShapes = new Map<string, Map<string, Shaper<Row, Bind>>>();
  const aliases = timelineAliases(scope.b);
  const rows: Partial<Record<keyof typeof TIMELINE_TABLES, AliasedRow>> = {};
  for (const [kind, table] of Object.entries(TIMELINE_TABLES)) {
    const type = planner.schema
      .getPossibleTypes(union)
      .find((member) => typePlan(member)?.table === table);
    if (!type) throw new Unplannable(`timeline ${kind}`);
    const shapes = new Map<string, Shaper<Row, Bind>>();
    kindShapes.set(kind, shapes);
    const alias = scope.b.alias(table);
    const row = new RowBuilder();
    for (const [key, edgeNodes] of selection) {
      if (partOf(fieldAt(connectionType, edgeNodes)) !== 'edges') continue;
      for (const [nodeKey, nodeNodes] of planner.fields(edgeType, subSelections(edgeNodes))) {
        if (partOf(fieldAt(edgeType, nodeNodes)) !== 'node') continue;
        shapes.set(
          `${key}.${nodeKey}`,
          planner.planObject(scope, row, type, alias, subSelections(nodeNodes), `${path}.${key}`),
        );
      }
    }
    rows[kind as keyof typeof TIMELINE_TABLES] = { alias, row: jsonArray(row.slots) };
  }
  const filter = args.filter as TimelineFilterValue | null | undefined;
  const params: Partial<Record<keyof TimelineFilterValue, Placeholder>> = {};
  for (const name of Object.keys(filter ?? {}) as (keyof TimelineFilterValue)[]) {
    params[name] = scope.b.param((bind) => {
      const value = (argsAt(bind, node).filter as Record<string, unknown>)[name];
      return Array.isArray(value) ? [...value] : value;
    });
  }
  const json = timelineJson(
    scope.b,
    filter,
    params,
    {
      backward,
      limit: scope.b.param((bind) => pageSize(argsAt(bind, node)) + 1),
      ...(args.after != null ? { after: cursorParams(scope, keys, cursor('after')) } : {}),
      ...(args.before != null ? { before: cursorParams(scope, keys, cursor('before')) } : {}),
    },
    selectsTotal(connectionType, selection),
    aliases,
    rows,
  );
  // Items laid out by TIMELINE_ITEM_SLOTS; the node comes from its kind's shape.
  const edgeShapes = new Map<string, Shaper<Row, Bind>>();
  for (const [key, edgeNodes] of selection) {
    if (partOf(fieldAt(connectionType, edgeNodes)) !== 'edges') continue;
    const parts: [string, Shaper<Row, Bind>][] = [];
    for (const [edgeKey, fieldNodes] of planner.fields(edgeType, subSelections(edgeNodes))) {
      const field = fieldAt(edgeType, fieldNodes);
      const part = partOf(field);
      if (!field) parts.push([edgeKey, constantShaper(edgeType.name)]);
      else if (part === 'cursor') {
        parts.push([
          edgeKey,
          computedShaper((values: Row) =>
            encodeCursor(TIMELINE_CURSOR, values.slice(0, keys) as CursorValues),
          ),
        ]);
      } else if (part === 'node') {
        const shapeOf = (values: Row) => {
          const kind = values[TIMELINE_ITEM_SLOTS.kind] as string;
          const shape = kindShapes.get(kind)?.get(`${key}.${edgeKey}`);
          if (!shape) throw new Unplanned('timeline kind');
          return shape;
        };
        parts.push([
          edgeKey,
          {
            value: (values, bind) =>
              shapeOf(values).value(values[TIMELINE_ITEM_SLOTS.row] as Row, bind),
          },
        ]);
      } else throw new Unplannable(`${edgeType.name}.${field.name}`);
    }
    edgeShapes.set(key, objectShaper(parts, planner.mark(edgeType.name)));
  }
  const shape = connectionShaper(
    planner,
    connectionType,
    selection,
    () => edgeShapes,
    pageOf(node, backward),
    keys,
    TIMELINE_CURSOR,
  );
  return { json, shape: wrapShaper(field.type, shape) };
}
