/**
 * The planner: from a validated operation (and the shape of its arguments), the statements
 * that load its store-backed part and the shaping that turns their JSON into the response.
 * It reads the schema's types and the planning metadata of their fields (`metadata.ts`) and
 * composes SQL from `src/db/plan-sql.ts`; it never runs anything.
 *
 * Each root field over the store becomes one statement. Fields resolved around the plan
 * (external sources), mutations and subscriptions make the plan "mixed": graphql-js then
 * executes the operation, reading planned values where the plan has them (see `execute.ts`),
 * and entity fields of payloads load their selection with a statement of their own.
 */

import type { SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import {
  type FieldNode,
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLLeafType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type GraphQLUnionType,
  getNamedType,
  isAbstractType,
  isLeafType,
  isObjectType,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { pageSize } from '../builder.js';
import { decodeCursor, encodeCursor } from '../db/cursors.js';
import type { FilterField } from '../db/filter-kit.js';
import { decodeListCursor, type ListDeclaration, listOrder, type TableKey } from '../db/lists.js';
import {
  type CompiledStatement,
  columnJson,
  connectionJson,
  exportStatusJson,
  jsonArray,
  listFilterSql,
  lookupJson,
  lookupManyJson,
  relationJson,
  StatementBuilder,
  TIMELINE_TABLES,
  timelineJson,
} from '../db/plan-sql.js';
import { TIMELINE_CURSOR, type TimelineFilterValue } from '../db/timeline.js';
import { decodeGlobalId, encodeGlobalId } from '../schema/node.js';
import { type CollectContext, collectFields, subSelections } from './collect.js';
import { type FieldPlan, fieldPlan, typePlan } from './metadata.js';
import {
  type Completion,
  leafCompletion,
  PLANNED,
  type PlannedObject,
  ROW,
  Unplanned,
  wrapType,
} from './shapes.js';

/** What a request binds into a plan and shapes with. */
export interface Bind {
  /** Coerced arguments of every field that takes some. */
  readonly args: ReadonlyMap<FieldNode, Record<string, unknown>>;
  /** Today in UTC (`YYYY-MM-DD`): the default `asOf` of `exportStatus`. */
  readonly today: string;
  /** The row id an entity plan loads. */
  readonly entityId?: number;
  /** Values decoded once per request (cursors, global IDs). */
  readonly memo: Map<unknown, unknown>;
}

/** A statement and the shaping of its `r` column into a response value. */
export interface StatementPlan {
  readonly statement: CompiledStatement<Bind>;
  readonly shape: Completion<Bind>;
  /** The tables the statement reads. */
  readonly tables: ReadonlySet<TableKey>;
}

/** One root field of a plan. */
export interface RootPlan {
  readonly key: string;
  /** Its statement; absent when its resolver answers it (mixed plans). */
  readonly plan?: StatementPlan;
  /** `__typename` at the root. */
  readonly constant?: string;
}

/** The plan of an operation for one shape of its arguments. */
export interface OperationPlan {
  readonly operation: 'query' | 'mutation' | 'subscription';
  readonly roots: readonly RootPlan[];
  /** True when graphql-js executes the operation around the plan. */
  readonly mixed: boolean;
  /** Statements of payload entity fields, by `<parent type>:<response path>`. */
  readonly entities: ReadonlyMap<string, StatementPlan>;
}

/** The operation cannot be planned (a field without planning metadata): resolvers answer it. */
export class Unplannable extends Error {
  constructor(where: string) {
    super(`not plannable: ${where}`);
    this.name = 'Unplannable';
  }
}

/** A row being planned: the slots of its JSON array, deduplicated by key. */
class RowBuilder {
  readonly slots: SQL[] = [];
  readonly #index = new Map<string, number>();
  /**
   * `offset`: where the first slot sits in the array the shaper reads; `leading`: columns
   * already at positions 0.. before it (a page's ordering values), reused by column slots.
   */
  constructor(
    readonly offset = 0,
    leading: readonly string[] = [],
  ) {
    for (const [i, column] of leading.entries()) this.#index.set(`c:${column}`, i);
  }
  add(key: string | undefined, make: () => SQL): number {
    if (key !== undefined) {
      const found = this.#index.get(key);
      if (found !== undefined) return found;
    }
    const index = this.offset + this.slots.length;
    this.slots.push(make());
    if (key !== undefined) this.#index.set(key, index);
    return index;
  }
}

type ObjectShape = (row: readonly unknown[], bind: Bind) => PlannedObject;
type Part = (row: readonly unknown[], bind: Bind) => unknown;

const argsAt = (bind: Bind, node: FieldNode): Record<string, unknown> => bind.args.get(node) ?? {};

/** Memoizes a per-request decoding; errors become `Unplanned` (the resolvers report them). */
function memo<T>(bind: Bind, key: unknown, compute: () => T): T {
  if (bind.memo.has(key)) return bind.memo.get(key) as T;
  let value: T;
  try {
    value = compute();
  } catch (error) {
    throw new Unplanned(error instanceof Error ? error.message : 'bad argument');
  }
  bind.memo.set(key, value);
  return value;
}

/** Plans operations of one schema; one instance per plan built. */
class Planner {
  mixed = false;
  readonly entities = new Map<string, StatementPlan>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly collect: CollectContext,
    private readonly args: ReadonlyMap<FieldNode, Record<string, unknown>>,
  ) {}

  /** Plan-time arguments of a field (they decide the plan's shape, never its values). */
  private argsOf(node: FieldNode): Record<string, unknown> {
    return this.args.get(node) ?? {};
  }

  plan(operation: OperationDefinitionNode): OperationPlan {
    const rootType = this.schema.getRootType(operation.operation);
    if (!rootType) throw new Unplannable(`no ${operation.operation} type`);
    if (operation.operation !== 'query') this.mixed = true;
    const roots: RootPlan[] = [];
    for (const [key, nodes] of collectFields(this.collect, rootType, [operation.selectionSet])) {
      const name = (nodes[0] as FieldNode).name.value;
      if (name === '__typename') {
        roots.push({ key, constant: rootType.name });
        continue;
      }
      const field = rootType.getFields()[name];
      if (!field) throw new Unplannable(`${rootType.name}.${name}`);
      const plan = fieldPlan(field);
      const root = this.planRoot(rootType, field, plan, key, nodes);
      roots.push(root ? { key, plan: root } : { key });
    }
    return { operation: operation.operation, roots, mixed: this.mixed, entities: this.entities };
  }

  private planRoot(
    rootType: GraphQLObjectType,
    field: GraphQLField<unknown, unknown>,
    plan: FieldPlan | undefined,
    key: string,
    nodes: FieldNode[],
  ): StatementPlan | undefined {
    const node = nodes[0] as FieldNode;
    const b = new StatementBuilder<Bind>();
    const tables = new Set<TableKey>();
    const finish = (json: SQL, shape: Completion<Bind>): StatementPlan => ({
      statement: b.compile(json),
      shape,
      tables,
    });
    if (plan?.kind === 'lookup') {
      const type = this.objectTypeOf(field.type);
      const row = new RowBuilder();
      let shape: ObjectShape | undefined;
      const json = lookupJson(
        b,
        plan.table,
        plan.column,
        b.param((bind) => argsAt(bind, node)[plan.argument]),
        (t) => {
          tables.add(plan.table);
          shape = this.planObject(b, row, type, t, subSelections(nodes), tables, key);
          return jsonArray(row.slots);
        },
      );
      return finish(
        json,
        objectCompletion(field.type, () => shape),
      );
    }
    if (plan?.kind === 'connection') {
      const { json, shape } = this.planConnection(
        b,
        field,
        plan.list,
        undefined,
        nodes,
        tables,
        key,
      );
      return finish(json, shape);
    }
    if (plan?.kind === 'special' && plan.name === 'node') {
      const { json, shape } = this.planNode(b, field, nodes, tables, key);
      return finish(json, shape);
    }
    if (plan?.kind === 'special' && plan.name === 'nodes') {
      const { json, shape } = this.planNodes(b, field, nodes, tables, key);
      return finish(json, shape);
    }
    if (plan?.kind === 'special' && plan.name === 'timeline') {
      const { json, shape } = this.planTimeline(b, field, nodes, tables, key);
      return finish(json, shape);
    }
    // Resolved by its resolver; its payload's entities are planned.
    this.mixed = true;
    if (plan?.kind === 'entity') {
      this.planEntity(plan.table, field.type, nodes, `${rootType.name}:${key}`);
    } else {
      this.planPayload(field.type, nodes, key);
    }
    return undefined;
  }

  /** The statement of an entity field: the row of `table` by id, with the selection under it. */
  private planEntity(table: TableKey, type: GraphQLOutputType, nodes: FieldNode[], path: string) {
    const b = new StatementBuilder<Bind>();
    const tables = new Set<TableKey>([table]);
    const objectType = this.objectTypeOf(type);
    const row = new RowBuilder();
    let shape: ObjectShape | undefined;
    const json = lookupJson(
      b,
      table,
      'id',
      b.param((bind) => bind.entityId),
      (t) => {
        shape = this.planObject(b, row, objectType, t, subSelections(nodes), tables, path);
        return jsonArray(row.slots);
      },
    );
    this.entities.set(path, {
      statement: b.compile(json),
      shape: objectCompletion(type, () => shape),
      tables,
    });
  }

  /** Walks a resolver's payload (objects and unions of them) for entity fields to plan. */
  private planPayload(type: GraphQLOutputType, nodes: FieldNode[], path: string) {
    const named = getNamedType(type);
    if (isLeafType(named)) return;
    const concrete = isAbstractType(named)
      ? this.schema.getPossibleTypes(named)
      : [named as GraphQLObjectType];
    for (const objectType of concrete) {
      if (typePlan(objectType)) continue;
      for (const [key, fieldNodes] of collectFields(
        this.collect,
        objectType,
        subSelections(nodes),
      )) {
        const name = (fieldNodes[0] as FieldNode).name.value;
        const field = objectType.getFields()[name];
        if (!field) continue;
        const plan = fieldPlan(field);
        if (plan?.kind === 'entity') {
          this.planEntity(plan.table, field.type, fieldNodes, `${objectType.name}:${path}.${key}`);
        }
      }
    }
  }

  /** The object type a field returns (unwrapped); throws when it is abstract. */
  private objectTypeOf(type: GraphQLOutputType): GraphQLObjectType {
    const named = getNamedType(type);
    if (!isObjectType(named)) throw new Unplannable(`${named.name} is not an object type`);
    return named;
  }

  /**
   * Plans the selection of an object of a table-backed `type` whose row is `alias`: adds its
   * slots to `row` and returns the shaper of the row's array into the response object.
   */
  private planObject(
    b: StatementBuilder<Bind>,
    row: RowBuilder,
    type: GraphQLObjectType,
    alias: PgTable,
    selections: readonly SelectionSetNode[],
    tables: Set<TableKey>,
    path: string,
  ): ObjectShape {
    const table = typePlan(type);
    if (!table) throw new Unplannable(`${type.name} has no table`);
    tables.add(table.table);
    const parts: [string, Part][] = [];
    const rowColumns: [string, number][] = [];
    const column = (name: string) => row.add(`c:${name}`, () => columnJson(alias, name));
    for (const [key, nodes] of collectFields(this.collect, type, selections)) {
      const node = nodes[0] as FieldNode;
      const name = node.name.value;
      if (name === '__typename') {
        parts.push([key, () => type.name]);
        continue;
      }
      const field = type.getFields()[name];
      if (!field) throw new Unplannable(`${type.name}.${name}`);
      const plan = fieldPlan(field);
      if (!plan && name === 'id' && table.nodeKey) {
        const index = column(table.nodeKey);
        parts.push([key, (values) => encodeGlobalId(type.name, values[index] as string)]);
        continue;
      }
      if (!plan) throw new Unplannable(`${type.name}.${name}`);
      const at = `${path}.${key}`;
      switch (plan.kind) {
        case 'column': {
          const index = column(plan.column);
          const complete = this.valueCompletion(field.type, nodes);
          parts.push([key, (values, bind) => complete(values[index], bind)]);
          break;
        }
        case 'computed': {
          const indexes = plan.columns.map((name): [string, number] => [name, column(name)]);
          const complete = this.valueCompletion(field.type, nodes);
          parts.push([
            key,
            (values, bind) => {
              const source: Record<string, unknown> = {};
              for (const [name, index] of indexes) source[name] = values[index];
              return complete(plan.value(source), bind);
            },
          ]);
          break;
        }
        case 'relation': {
          const child = this.objectTypeOf(field.type);
          const childRow = new RowBuilder();
          let shape: ObjectShape | undefined;
          const index = row.add(undefined, () =>
            relationJson(b, table.table, alias, plan.relation, plan, (t) => {
              shape = this.planObject(b, childRow, child, t, subSelections(nodes), tables, at);
              return jsonArray(childRow.slots);
            }),
          );
          const complete = objectCompletion(field.type, () => shape);
          parts.push([key, (values, bind) => complete(values[index], bind)]);
          break;
        }
        case 'connection': {
          let shape: Completion<Bind> | undefined;
          const index = row.add(undefined, () => {
            const planned = this.planConnection(b, field, plan.list, alias, nodes, tables, at);
            shape = planned.shape;
            return planned.json;
          });
          parts.push([key, (values, bind) => (shape as Completion<Bind>)(values[index], bind)]);
          break;
        }
        case 'special': {
          if (plan.name !== 'exportStatus') throw new Unplannable(`${type.name}.${name}`);
          const { json, shape } = this.planExportStatus(b, field, alias, nodes, tables, at);
          const index = row.add(undefined, () => json);
          parts.push([key, (values, bind) => shape(values[index], bind)]);
          break;
        }
        case 'resolver': {
          this.mixed = true;
          for (const name of plan.columns) rowColumns.push([name, column(name)]);
          break;
        }
        default:
          throw new Unplannable(`${type.name}.${name}`);
      }
    }
    const typeName = type.name;
    return (values, bind) => {
      const object: PlannedObject = {};
      for (const [key, part] of parts) object[key] = part(values, bind);
      if (this.mixed) {
        object[PLANNED] = typeName;
        if (rowColumns.length) {
          const source: Record<string, unknown> = {};
          for (const [name, index] of rowColumns) source[name] = values[index];
          object[ROW] = source;
        }
      }
      return object;
    };
  }

  /**
   * The completion of a value computed in Node (a column, a computed field, a property): a
   * leaf is serialized; an object is a value object whose fields are properties.
   */
  private valueCompletion(type: GraphQLOutputType, nodes: FieldNode[]): Completion<Bind> {
    const named = getNamedType(type);
    if (isLeafType(named)) return wrapType(type, leafCompletion<Bind>(named as GraphQLLeafType));
    if (!isObjectType(named)) throw new Unplannable(`${named.name} value`);
    const parts: [string, Completion<Bind>, string][] = [];
    for (const [key, fieldNodes] of collectFields(this.collect, named, subSelections(nodes))) {
      const name = (fieldNodes[0] as FieldNode).name.value;
      if (name === '__typename') {
        parts.push([key, () => named.name, '']);
        continue;
      }
      const field = named.getFields()[name];
      const plan = field && fieldPlan(field);
      if (!field || plan?.kind !== 'property') throw new Unplannable(`${named.name}.${name}`);
      parts.push([key, this.valueCompletion(field.type, fieldNodes), plan.property]);
    }
    return wrapType(type, (value, bind) => {
      const source = value as Record<string, unknown>;
      const object: PlannedObject = {};
      for (const [key, complete, property] of parts) {
        object[key] = property ? complete(source[property], bind) : complete(undefined, bind);
      }
      if (this.mixed) object[PLANNED] = named.name;
      return object;
    });
  }

  /** A connection of `list` (related to `parent`, or a root list when it is undefined). */
  private planConnection(
    b: StatementBuilder<Bind>,
    field: GraphQLField<unknown, unknown>,
    list: ListDeclaration,
    parent: PgTable | undefined,
    nodes: FieldNode[],
    tables: Set<TableKey>,
    path: string,
  ): { json: SQL; shape: Completion<Bind> } {
    const node = nodes[0] as FieldNode;
    const args = this.argsOf(node);
    const order = listOrder(list, args.orderBy as string | undefined);
    const backward = args.last != null;
    const cursor = (bind: Bind, argument: 'after' | 'before') =>
      memo(bind, `${argument}:${path}`, () =>
        decodeListCursor(list, argument, argsAt(bind, node)[argument] as string),
      );
    const keyParams = (argument: 'after' | 'before') =>
      args[argument] != null
        ? order.keys.map((_, i) => b.param((bind) => cursor(bind, argument)[i]))
        : undefined;
    const filterValue = args.filter as Record<string, unknown> | null | undefined;
    const filter = list.filter;
    const page = {
      order,
      backward,
      limit: b.param((bind) => pageSize(argsAt(bind, node)) + 1),
      ...(keyParams('after') ? { after: keyParams('after') } : {}),
      ...(keyParams('before') ? { before: keyParams('before') } : {}),
      ...(filter && filterValue
        ? {
            filter: (t: PgTable) =>
              listFilterSql(filter, t, filterValue, (name) =>
                b.param((bind) => {
                  const value = (argsAt(bind, node).filter as Record<string, unknown>)[name];
                  return (filter.fields[name] as FilterField<unknown, unknown> | undefined)?.bind(
                    value,
                  );
                }),
              ),
          }
        : {}),
    };
    tables.add(list.node);
    if (list.link) tables.add(list.link.table);
    const connectionType = this.objectTypeOf(field.type);
    const selection = collectFields(this.collect, connectionType, subSelections(nodes));
    const withTotal = [...selection.values()].some(
      (fieldNodes) => (fieldNodes[0] as FieldNode).name.value === 'totalCount',
    );
    const withCursors = this.selectsCursors(connectionType, selection);
    const keyCount = withCursors ? order.keys.length : 0;
    let edgeShapes: Map<string, ObjectShape> | undefined;
    const options = { withTotal, withCursors };
    const json = connectionJson(b, list, parent, page, options, (row, edge) => {
      const item = new RowBuilder(keyCount, withCursors ? order.keys.map((key) => key.column) : []);
      edgeShapes = this.planEdges(b, item, connectionType, selection, row, edge, tables, path);
      return item.slots;
    });
    const shape = this.connectionShape(
      connectionType,
      selection,
      () => edgeShapes as Map<string, ObjectShape>,
      (bind) => {
        const current = argsAt(bind, node);
        return {
          size: pageSize(current),
          backward,
          after: current.after != null,
          before: current.before != null,
        };
      },
      keyCount,
    );
    return { json, shape: wrapType(field.type, shape) };
  }

  /** Whether a connection selection asks for any cursor (edges' or pageInfo's). */
  private selectsCursors(
    connectionType: GraphQLObjectType,
    selection: Map<string, FieldNode[]>,
  ): boolean {
    for (const nodes of selection.values()) {
      const name = (nodes[0] as FieldNode).name.value;
      if (name !== 'edges' && name !== 'pageInfo') continue;
      const field = connectionType.getFields()[name];
      if (!field) continue;
      const type = this.objectTypeOf(field.type);
      for (const subNodes of collectFields(this.collect, type, subSelections(nodes)).values()) {
        const sub = (subNodes[0] as FieldNode).name.value;
        if (sub === 'cursor' || sub === 'startCursor' || sub === 'endCursor') return true;
      }
    }
    return false;
  }

  /** Plans the `edges` of a connection selection over an item row; shapers by response key. */
  private planEdges(
    b: StatementBuilder<Bind>,
    item: RowBuilder,
    connectionType: GraphQLObjectType,
    selection: Map<string, FieldNode[]>,
    node: PgTable,
    edge: (column: string) => SQL,
    tables: Set<TableKey>,
    path: string,
  ): Map<string, ObjectShape> {
    const shapes = new Map<string, ObjectShape>();
    const edgesField = connectionType.getFields().edges;
    if (!edgesField) throw new Unplannable(`${connectionType.name} has no edges`);
    const edgeType = this.objectTypeOf(edgesField.type);
    for (const [key, nodes] of selection) {
      if ((nodes[0] as FieldNode).name.value !== 'edges') continue;
      const parts: [string, Part][] = [];
      for (const [edgeKey, edgeNodes] of collectFields(
        this.collect,
        edgeType,
        subSelections(nodes),
      )) {
        const name = (edgeNodes[0] as FieldNode).name.value;
        if (name === '__typename') {
          parts.push([edgeKey, () => edgeType.name]);
        } else if (name === 'cursor') {
          const keys = item.offset;
          parts.push([edgeKey, (values) => encodeCursor(values.slice(0, keys) as string[])]);
        } else if (name === 'node') {
          const nodeField = edgeType.getFields().node;
          if (!nodeField) throw new Unplannable(`${edgeType.name}.node`);
          const nodeShape = this.planObject(
            b,
            item,
            this.objectTypeOf(nodeField.type),
            node,
            subSelections(edgeNodes),
            tables,
            `${path}.${key}.${edgeKey}`,
          );
          parts.push([edgeKey, (values, bind) => nodeShape(values, bind)]);
        } else {
          const field = edgeType.getFields()[name];
          const plan = field && fieldPlan(field);
          if (!field || plan?.kind !== 'column') throw new Unplannable(`${edgeType.name}.${name}`);
          const index = item.add(`e:${plan.column}`, () => edge(plan.column));
          const complete = this.valueCompletion(field.type, edgeNodes);
          parts.push([edgeKey, (values, bind) => complete(values[index], bind)]);
        }
      }
      shapes.set(key, (values, bind) => {
        const object: PlannedObject = {};
        for (const [edgeKey, part] of parts) object[edgeKey] = part(values, bind);
        if (this.mixed) object[PLANNED] = edgeType.name;
        return object;
      });
    }
    return shapes;
  }

  /**
   * Shapes `[items, totalCount]` into a connection object: drops the look-ahead item, builds
   * edges and pageInfo as the resolvers do.
   */
  private connectionShape(
    connectionType: GraphQLObjectType,
    selection: Map<string, FieldNode[]>,
    edgeShapes: () => Map<string, ObjectShape>,
    pageOf: (bind: Bind) => { size: number; backward: boolean; after: boolean; before: boolean },
    keyCount: number,
  ): Completion<Bind> {
    const pageInfoField = connectionType.getFields().pageInfo;
    const pageInfoType = pageInfoField ? this.objectTypeOf(pageInfoField.type) : undefined;
    const parts: [string, (page: Page, bind: Bind) => unknown][] = [];
    for (const [key, nodes] of selection) {
      const name = (nodes[0] as FieldNode).name.value;
      if (name === '__typename') parts.push([key, () => connectionType.name]);
      else if (name === 'totalCount') parts.push([key, (page) => page.total]);
      else if (name === 'edges') {
        parts.push([
          key,
          (page, bind) => {
            const shape = edgeShapes().get(key) as ObjectShape;
            return page.items.map((item) => shape(item, bind));
          },
        ]);
      } else if (name === 'pageInfo' && pageInfoType) {
        const infoParts = [...collectFields(this.collect, pageInfoType, subSelections(nodes))].map(
          ([infoKey, infoNodes]): [string, (page: Page) => unknown] => {
            const infoName = (infoNodes[0] as FieldNode).name.value;
            const cursorOf = (item: readonly unknown[] | undefined) =>
              item ? encodeCursor(item.slice(0, keyCount) as string[]) : null;
            switch (infoName) {
              case 'hasNextPage':
                return [infoKey, (page) => page.hasNextPage];
              case 'hasPreviousPage':
                return [infoKey, (page) => page.hasPreviousPage];
              case 'startCursor':
                return [infoKey, (page) => cursorOf(page.items[0])];
              case 'endCursor':
                return [infoKey, (page) => cursorOf(page.items.at(-1))];
              case '__typename':
                return [infoKey, () => pageInfoType.name];
              default:
                throw new Unplannable(`${pageInfoType.name}.${infoName}`);
            }
          },
        );
        parts.push([
          key,
          (page) => {
            const info: PlannedObject = {};
            for (const [infoKey, part] of infoParts) info[infoKey] = part(page);
            if (this.mixed) info[PLANNED] = pageInfoType.name;
            return info;
          },
        ]);
      } else throw new Unplannable(`${connectionType.name}.${name}`);
    }
    return (value, bind) => {
      const [items, total] = value as [readonly (readonly unknown[])[], number | null];
      const { size, backward, after, before } = pageOf(bind);
      const hasMore = items.length > size;
      // Items come in the list's order; the look-ahead row is the last one read.
      const pageItems = hasMore
        ? backward
          ? items.slice(items.length - size)
          : items.slice(0, size)
        : items;
      const page: Page = {
        items: pageItems,
        total: total ?? 0,
        hasNextPage: backward ? before : hasMore,
        hasPreviousPage: backward ? hasMore : after,
      };
      const object: PlannedObject = {};
      for (const [key, part] of parts) object[key] = part(page, bind);
      if (this.mixed) object[PLANNED] = connectionType.name;
      return object;
    };
  }

  /** `Chip.exportStatus` over the chip `chip`. */
  private planExportStatus(
    b: StatementBuilder<Bind>,
    field: GraphQLField<unknown, unknown>,
    chip: PgTable,
    nodes: FieldNode[],
    tables: Set<TableKey>,
    path: string,
  ): { json: SQL; shape: Completion<Bind> } {
    const node = nodes[0] as FieldNode;
    const type = this.objectTypeOf(field.type);
    const argument = (name: 'from' | 'to') => (bind: Bind) => argsAt(bind, node)[name];
    const asOf = (bind: Bind) => (argsAt(bind, node).asOf as string | null) ?? bind.today;
    const rows: Parameters<typeof exportStatusJson>[3] = {};
    const parts: [string, Part][] = [];
    tables.add('policyDecisions');
    tables.add('policyDecisionChips');
    tables.add('policyDecisionUpdates');
    const rowOf = (fieldNodes: FieldNode[], fieldType: GraphQLOutputType, at: string) => {
      const objectType = this.objectTypeOf(fieldType);
      const row = new RowBuilder();
      let shape: ObjectShape | undefined;
      const build = (t: PgTable) => {
        shape = this.planObject(b, row, objectType, t, subSelections(fieldNodes), tables, at);
        return jsonArray(row.slots);
      };
      return { build, complete: objectCompletion(fieldType, () => shape) };
    };
    for (const [key, fieldNodes] of collectFields(this.collect, type, subSelections(nodes))) {
      const name = (fieldNodes[0] as FieldNode).name.value;
      const sub = type.getFields()[name];
      const at = `${path}.${key}`;
      if (name === '__typename') {
        parts.push([key, () => type.name]);
      } else if (name === 'from' || name === 'to' || name === 'asOf') {
        if (!sub) throw new Unplannable(`${type.name}.${name}`);
        const complete = this.valueCompletion(sub.type, fieldNodes);
        const read = name === 'asOf' ? asOf : argument(name);
        parts.push([key, (_values, bind) => complete(read(bind), bind)]);
      } else if (name === 'exportEffect' || name === 'importEffect') {
        if (!sub) throw new Unplannable(`${type.name}.${name}`);
        const complete = this.valueCompletion(sub.type, fieldNodes);
        const index = name === 'exportEffect' ? 0 : 2;
        parts.push([key, (values, bind) => complete(values[index], bind)]);
      } else if (name === 'exportDecision' || name === 'importDecision' || name === 'chip') {
        if (!sub) throw new Unplannable(`${type.name}.${name}`);
        if (rows[name]) throw new Unplannable(`${type.name}.${name} twice`);
        const { build, complete } = rowOf(fieldNodes, sub.type, at);
        rows[name] = build;
        const index = name === 'exportDecision' ? 1 : name === 'importDecision' ? 3 : 4;
        parts.push([key, (values, bind) => complete(values[index], bind)]);
      } else {
        throw new Unplannable(`${type.name}.${name}`);
      }
    }
    const json = exportStatusJson(
      b,
      chip,
      {
        from: b.param(argument('from')),
        to: b.param(argument('to')),
        asOf: b.param(asOf),
      },
      rows,
    );
    const shape = wrapType<Bind>(field.type, (value, bind) => {
      const values = value as readonly unknown[];
      const object: PlannedObject = {};
      for (const [key, part] of parts) object[key] = part(values, bind);
      if (this.mixed) object[PLANNED] = type.name;
      return object;
    });
    return { json, shape };
  }

  /** The object types behind the `Node` interface that have a table and a global ID key. */
  private nodeTypes(field: GraphQLField<unknown, unknown>) {
    const named = getNamedType(field.type) as GraphQLInterfaceType;
    return this.schema.getPossibleTypes(named).flatMap((type) => {
      const plan = typePlan(type);
      return plan?.nodeKey ? [{ type, table: plan.table, key: plan.nodeKey }] : [];
    });
  }

  /** `node(id)`: a lookup per node type, the one the ID names bound, the others null. */
  private planNode(
    b: StatementBuilder<Bind>,
    field: GraphQLField<unknown, unknown>,
    nodes: FieldNode[],
    tables: Set<TableKey>,
    path: string,
  ): { json: SQL; shape: Completion<Bind> } {
    const node = nodes[0] as FieldNode;
    const decoded = (bind: Bind) =>
      memo(bind, `node:${path}`, () => decodeGlobalId(String(argsAt(bind, node).id)));
    const shapes: ObjectShape[] = [];
    const slots = this.nodeTypes(field).map(({ type, table, key }) => {
      const row = new RowBuilder();
      return lookupJson(
        b,
        table,
        key,
        b.param((bind) => {
          const id = decoded(bind);
          if (id.typename !== type.name) return null;
          return key === 'id' ? Number(id.id) : id.id;
        }),
        (t) => {
          shapes.push(this.planObject(b, row, type, t, subSelections(nodes), tables, path));
          return jsonArray(row.slots);
        },
      );
    });
    const shape: Completion<Bind> = (value, bind) => {
      const rows = value as readonly (readonly unknown[] | null)[];
      const index = rows.findIndex((row) => row !== null);
      return index < 0 ? null : (shapes[index] as ObjectShape)(rows[index] as unknown[], bind);
    };
    return { json: jsonArray(slots), shape };
  }

  /** `nodes(ids)`: one lookup per node type for the IDs of that type, answered in asked order. */
  private planNodes(
    b: StatementBuilder<Bind>,
    field: GraphQLField<unknown, unknown>,
    nodes: FieldNode[],
    tables: Set<TableKey>,
    path: string,
  ): { json: SQL; shape: Completion<Bind> } {
    const node = nodes[0] as FieldNode;
    const decoded = (bind: Bind) =>
      memo(bind, `nodes:${path}`, () => {
        const ids = argsAt(bind, node).ids as unknown[];
        if (ids.length > 100) throw new Error('too many ids');
        return ids.map((id) => decodeGlobalId(String(id)));
      });
    const types = this.nodeTypes(field);
    const shapes = new Map<string, ObjectShape>();
    const slots = types.map(({ type, table, key }) => {
      const row = new RowBuilder();
      return lookupManyJson(
        b,
        table,
        key,
        b.param((bind) =>
          decoded(bind)
            .filter((id) => id.typename === type.name)
            .map((id) => id.id),
        ),
        (t) => {
          shapes.set(
            type.name,
            this.planObject(b, row, type, t, subSelections(nodes), tables, path),
          );
          return jsonArray(row.slots);
        },
      );
    });
    const shape: Completion<Bind> = (value, bind) => {
      const found = new Map<string, readonly unknown[]>();
      (value as readonly (readonly [unknown, unknown[]][])[]).forEach((rows, i) => {
        const typeName = (types[i] as { type: GraphQLObjectType }).type.name;
        for (const [key, row] of rows) found.set(`${typeName}:${String(key)}`, row);
      });
      return decoded(bind).map((id) => {
        const row = found.get(`${id.typename}:${id.id}`);
        return row ? (shapes.get(id.typename) as ObjectShape)(row, bind) : null;
      });
    };
    return { json: jsonArray(slots), shape };
  }

  /** `timeline`: one page of events, each kind's row with its selection. */
  private planTimeline(
    b: StatementBuilder<Bind>,
    field: GraphQLField<unknown, unknown>,
    nodes: FieldNode[],
    tables: Set<TableKey>,
    path: string,
  ): { json: SQL; shape: Completion<Bind> } {
    const node = nodes[0] as FieldNode;
    const args = this.argsOf(node);
    const backward = args.last != null;
    const cursor = (bind: Bind, argument: 'after' | 'before') =>
      memo(bind, `${argument}:${path}`, () =>
        decodeCursor(argument, argsAt(bind, node)[argument] as string, TIMELINE_CURSOR),
      );
    const keyParams = (argument: 'after' | 'before') =>
      args[argument] != null
        ? TIMELINE_CURSOR.map((_, i) => b.param((bind) => cursor(bind, argument)[i]))
        : undefined;
    const connectionType = this.objectTypeOf(field.type);
    const selection = collectFields(this.collect, connectionType, subSelections(nodes));
    const withTotal = [...selection.values()].some(
      (fieldNodes) => (fieldNodes[0] as FieldNode).name.value === 'totalCount',
    );
    const edgesField = connectionType.getFields().edges;
    if (!edgesField) throw new Unplannable('timeline edges');
    const edgeType = this.objectTypeOf(edgesField.type);
    const union = getNamedType(edgeType.getFields().node?.type) as GraphQLUnionType;
    // Each kind's row: every `node` selection of every `edges` key, per member type.
    const kindShapes = new Map<string, Map<string, ObjectShape>>();
    const rows: Partial<Record<keyof typeof TIMELINE_TABLES, (t: PgTable) => SQL>> = {};
    for (const [kind, table] of Object.entries(TIMELINE_TABLES)) {
      const type = this.schema
        .getPossibleTypes(union)
        .find((member) => typePlan(member)?.table === table);
      if (!type) throw new Unplannable(`timeline ${kind}`);
      const row = new RowBuilder();
      const shapes = new Map<string, ObjectShape>();
      rows[kind as keyof typeof TIMELINE_TABLES] = (t) => {
        for (const [key, edgeNodes] of selection) {
          if ((edgeNodes[0] as FieldNode).name.value !== 'edges') continue;
          for (const [nodeKey, nodeNodes] of collectFields(
            this.collect,
            edgeType,
            subSelections(edgeNodes),
          )) {
            if ((nodeNodes[0] as FieldNode).name.value !== 'node') continue;
            shapes.set(
              `${key}.${nodeKey}`,
              this.planObject(b, row, type, t, subSelections(nodeNodes), tables, `${path}.${key}`),
            );
          }
        }
        return jsonArray(row.slots);
      };
      kindShapes.set(kind, shapes);
    }
    const filter = args.filter as TimelineFilterValue | null | undefined;
    const json = timelineJson(
      b,
      filter,
      (name) =>
        b.param((bind) => {
          const value = (argsAt(bind, node).filter as Record<string, unknown>)[name];
          return Array.isArray(value) ? [...value] : value;
        }),
      {
        backward,
        limit: b.param((bind) => pageSize(argsAt(bind, node)) + 1),
        ...(keyParams('after') ? { after: keyParams('after') } : {}),
        ...(keyParams('before') ? { before: keyParams('before') } : {}),
      },
      withTotal,
      rows,
    );
    // Items: [at, rank, slug, id, kind, row]; the node comes from its kind's shape.
    const edgeShapes = new Map<string, ObjectShape>();
    for (const [key, edgeNodes] of selection) {
      if ((edgeNodes[0] as FieldNode).name.value !== 'edges') continue;
      const parts: [string, Part][] = [];
      for (const [edgeKey, fieldNodes] of collectFields(
        this.collect,
        edgeType,
        subSelections(edgeNodes),
      )) {
        const name = (fieldNodes[0] as FieldNode).name.value;
        if (name === '__typename') parts.push([edgeKey, () => edgeType.name]);
        else if (name === 'cursor') {
          parts.push([edgeKey, (values) => encodeCursor(values.slice(0, 4) as string[])]);
        } else if (name === 'node') {
          parts.push([
            edgeKey,
            (values, bind) => {
              const shape = kindShapes.get(values[4] as string)?.get(`${key}.${edgeKey}`);
              if (!shape) throw new Unplanned('timeline kind');
              return shape(values[5] as unknown[], bind);
            },
          ]);
        } else throw new Unplannable(`${edgeType.name}.${name}`);
      }
      edgeShapes.set(key, (values, bind) => {
        const object: PlannedObject = {};
        for (const [edgeKey, part] of parts) object[edgeKey] = part(values, bind);
        if (this.mixed) object[PLANNED] = edgeType.name;
        return object;
      });
    }
    const shape = this.connectionShape(
      connectionType,
      selection,
      () => edgeShapes,
      (bind) => {
        const current = argsAt(bind, node);
        return {
          size: pageSize(current),
          backward,
          after: current.after != null,
          before: current.before != null,
        };
      },
      4,
    );
    return { json, shape: wrapType(field.type, shape) };
  }
}

/** The items of a page and its page info. */
interface Page {
  items: readonly (readonly unknown[])[];
  total: number;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** Completes a row array (or a list of them) of `type` with the shape built during planning. */
function objectCompletion(
  type: GraphQLOutputType,
  shape: () => ObjectShape | undefined,
): Completion<Bind> {
  return wrapType(type, (value, bind) => (shape() as ObjectShape)(value as unknown[], bind));
}

/**
 * Plans `operation` for requests whose arguments have the shape of `args` (see
 * `shapeSignature`). Throws `Unplannable` when a selected field has no planning metadata.
 */
export function planOperation(
  schema: GraphQLSchema,
  collect: CollectContext,
  operation: OperationDefinitionNode,
  args: ReadonlyMap<FieldNode, Record<string, unknown>>,
): OperationPlan {
  return new Planner(schema, collect, args).plan(operation);
}
