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
 * Connections and the timeline are planned in `compile-lists.ts`; `node`, `nodes` and
 * `exportStatus` in `compile-special.ts`; `@defer` fragments planned apart in
 * `compile-deferred.ts`.
 *
 * `@defer` (queries): a deferred fragment on a table-backed object (a chip, a company, a
 * decision, ... wherever `planObject` plans one) is left out of the initial statement and
 * becomes a `DeferredPlan`: one statement for the fragment, keyed by the ids of every parent
 * row the initial result holds, run after the initial statements. The plan is mixed, so
 * graphql-js (yoga's executor) sends the initial payload and then each deferred fragment as
 * its statement (or, for fields of external sources, its source) answers. A deferred
 * fragment anywhere else (on an edge, a page info, a value object such as an export status,
 * a link row such as an `AffectedChip`, inside a deferred fragment's field, at the root), or
 * one that selects an object field its parent (or another deferred fragment) selects too, is
 * planned inline with its parent, as without `@defer`: its data is the same and still
 * arrives in its own payload, with no statement of its own. A fragment field resolved around the plan (an external source) is
 * resolved from the parent row as without `@defer`, and sent when its source answers.
 */
import type { SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import {
  type FieldNode,
  type GraphQLField,
  type GraphQLLeafType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  isAbstractType,
  isLeafType,
  isObjectType,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { encodeGlobalId } from '../codecs.js';
import {
  columnJson,
  hasIdColumn,
  jsonArray,
  lookupJson,
  relationAliases,
  relationJson,
  StatementBuilder,
} from '../db/plan-sql.js';
import type { TableKey } from '../db/tables.js';
import { type CollectContext, collectFields, subSelections } from './collect.js';
import { planDeferred, splitDeferredFields } from './compile-deferred.js';
import { planConnection, planTimeline } from './compile-lists.js';
import { planExportStatus, planNode, planNodes } from './compile-special.js';
import {
  argsAt,
  type Bind,
  type DeferredPlan,
  type OperationPlan,
  type Planning,
  type RootPlan,
  type Row,
  RowBuilder,
  type StatementPlan,
  type StatementScope,
  Unplannable,
} from './core.js';
import { fieldPlan, typePlan } from './metadata.js';
import {
  at,
  computedShaper,
  constantShaper,
  DEFERRED,
  deferred,
  leafShaper,
  objectShaper,
  PLANNED,
  type PlannedObject,
  ROW,
  type Shaper,
  wrapShaper,
} from './shapes.js';

export type {
  Bind,
  DeferredPlan,
  OperationPlan,
  RootPlan,
  Row,
  StatementPlan,
  StatementScope,
} from './core.js';
export { Unplannable } from './core.js';

/** Plans operations of one schema; one instance per plan built. */
export class Planner implements Planning {
  /** Whether graphql-js must execute the plan (set while planning). */
  mixed = false;
  readonly entities = new Map<string, StatementPlan>();
  /** The `@defer` fragments planned apart so far. */
  readonly deferredPlans: DeferredPlan[] = [];
  /**
   * Whether `planObject` plans `@defer` fragments apart now (not inside one; see
   * `compile-deferred.ts`).
   */
  splitDeferred = false;

  constructor(
    readonly schema: GraphQLSchema,
    readonly collect: CollectContext,
    private readonly args: ReadonlyMap<FieldNode, Record<string, unknown>>,
  ) {}

  /** Plan-time arguments of a field (they decide the plan's shape, never its values). */
  argsOf(node: FieldNode): Record<string, unknown> {
    return this.args.get(node) ?? {};
  }

  /** The fields of `selections` for an object of `type`, by response key. */
  fields(type: GraphQLObjectType, selections: readonly SelectionSetNode[]) {
    return collectFields(this.collect, type, selections);
  }

  /**
   * `incremental`: the operation uses `@defer`/`@stream` and yoga's executor will deliver it
   * incrementally; the plan is then mixed and, for a query, its deferred fragments are
   * planned apart (see the module comment).
   */
  plan(operation: OperationDefinitionNode, incremental = false): OperationPlan {
    const rootType = this.schema.getRootType(operation.operation);
    if (!rootType) throw new Unplannable(`no ${operation.operation} type`);
    if (operation.operation !== 'query' || incremental) this.mixed = true;
    this.splitDeferred = incremental && operation.operation === 'query';
    const roots: RootPlan[] = [];
    for (const [key, nodes] of this.fields(rootType, [operation.selectionSet])) {
      const name = (nodes[0] as FieldNode).name.value;
      if (name === '__typename') {
        roots.push({ key, constant: rootType.name });
        continue;
      }
      const field = rootType.getFields()[name];
      if (!field) throw new Unplannable(`${rootType.name}.${name}`);
      const root = this.planRoot(rootType, field, key, nodes);
      roots.push(root ? { key, plan: root } : { key });
    }
    return {
      operation: operation.operation,
      roots,
      mixed: this.mixed,
      entities: this.entities,
      deferred: this.deferredPlans,
    };
  }

  private planRoot(
    rootType: GraphQLObjectType,
    field: GraphQLField<unknown, unknown>,
    key: string,
    nodes: FieldNode[],
  ): StatementPlan | undefined {
    const plan = fieldPlan(field);
    const scope: StatementScope = { b: new StatementBuilder<Bind>(), tables: new Set() };
    const finish = ({ json, shape }: { json: SQL; shape: Shaper<unknown, Bind> }) => ({
      statement: scope.b.compile(json),
      shape,
      tables: scope.tables,
    });
    const node = nodes[0] as FieldNode;
    if (plan?.kind === 'lookup') {
      const argument = scope.b.param((bind) => argsAt(bind, node)[plan.argument]);
      const t = scope.b.alias(plan.table);
      const { row, shape } = this.planRow(scope, field.type, nodes, key, t);
      return finish({ json: lookupJson(plan.table, plan.column, argument, t, row), shape });
    }
    if (plan?.kind === 'connection') {
      return finish(planConnection(this, scope, field, plan.list, undefined, nodes, key));
    }
    if (plan?.kind === 'special' && plan.name === 'node') {
      return finish(planNode(this, scope, field, nodes, key));
    }
    if (plan?.kind === 'special' && plan.name === 'nodes') {
      return finish(planNodes(this, scope, field, nodes, key));
    }
    if (plan?.kind === 'special' && plan.name === 'timeline') {
      return finish(planTimeline(this, scope, field, nodes, key));
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

  /**
   * A nested row of the object type `type` returns, over `alias`, with the selection `nodes`
   * ask for: the row's JSON array, and the shaper of the value the caller's JSON around the
   * row gives (lists and nulls included).
   */
  planRow(
    scope: StatementScope,
    type: GraphQLOutputType,
    nodes: readonly FieldNode[],
    path: string,
    alias: PgTable,
  ): { row: SQL; shape: Shaper<unknown, Bind> } {
    const objectType = this.objectTypeOf(type);
    const row = new RowBuilder();
    const shape = this.planObject(scope, row, objectType, alias, subSelections(nodes), path);
    return {
      row: jsonArray(row.slots),
      shape: wrapShaper(
        type,
        at((value: unknown) => value as Row, shape),
      ),
    };
  }

  /** The statement of an entity field: the row of `table` by id, with the selection under it. */
  private planEntity(table: TableKey, type: GraphQLOutputType, nodes: FieldNode[], path: string) {
    const scope: StatementScope = { b: new StatementBuilder<Bind>(), tables: new Set([table]) };
    const id = scope.b.param((bind) => bind.entityId);
    const t = scope.b.alias(table);
    const { row, shape } = this.planRow(scope, type, nodes, path, t);
    const json = lookupJson(table, 'id', id, t, row);
    this.entities.set(path, { statement: scope.b.compile(json), shape, tables: scope.tables });
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
      for (const [key, fieldNodes] of this.fields(objectType, subSelections(nodes))) {
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
  objectTypeOf(type: GraphQLOutputType | undefined): GraphQLObjectType {
    const named = type && getNamedType(type);
    if (!named || !isObjectType(named)) {
      throw new Unplannable(`${named?.name ?? 'a field'} is not an object type`);
    }
    return named;
  }

  /**
   * The marks of an object in mixed plans: its type (and the row kept for resolvers); with
   * `deferred`, its row id (at `idIndex`) and its deferred plans, the id recorded for them.
   */
  mark(
    typeName: string,
    rowColumns: readonly (readonly [string, number])[] = [],
    deferred?: { readonly idIndex: number; readonly plans: readonly DeferredPlan[] },
  ) {
    return (object: PlannedObject, values: unknown, bind: Bind) => {
      if (!this.mixed) return;
      object[PLANNED] = typeName;
      if (rowColumns.length) {
        const source: Record<string, unknown> = {};
        for (const [name, index] of rowColumns) source[name] = (values as Row)[index];
        object[ROW] = source;
      }
      if (deferred && bind.deferredIds) {
        const id = (values as Row)[deferred.idIndex];
        object[DEFERRED] = { id, plans: deferred.plans };
        for (const plan of deferred.plans) {
          const ids = bind.deferredIds.get(plan);
          if (ids) ids.push(id);
          else bind.deferredIds.set(plan, [id]);
        }
      }
    };
  }

  /**
   * Plans the selection of an object of a table-backed `type` whose row is `alias`: adds its
   * slots to `row` and returns the shaper of the row's array into the response object.
   */
  planObject(
    scope: StatementScope,
    row: RowBuilder,
    type: GraphQLObjectType,
    alias: PgTable,
    selections: readonly SelectionSetNode[],
    path: string,
  ): Shaper<Row, Bind> {
    const table = typePlan(type);
    if (!table) throw new Unplannable(`${type.name} has no table`);
    scope.tables.add(table.table);
    const parts: [string, Shaper<Row, Bind>][] = [];
    const rowColumns: [string, number][] = [];
    const column = (name: string) => row.add(`c:${name}`, () => columnJson(alias, name));
    const slot = (index: number) => (values: Row) => values[index];
    // A nested value (relation, connection): its SQL is composed when the row's JSON is built,
    // and its shaper is known from then on.
    const nestedSlot = (plan: () => { json: SQL; shape: Shaper<unknown, Bind> }) => {
      let shape: Shaper<unknown, Bind> | undefined;
      const index = row.add(undefined, () => {
        const planned = plan();
        shape = planned.shape;
        return planned.json;
      });
      return at(
        slot(index),
        deferred(() => shape),
      );
    };
    const { fields, deferredSelections } = splitDeferredFields(
      this,
      type,
      selections,
      hasIdColumn(table.table),
    );
    // Fields of deferred fragments resolved around the plan read the parent row, as without
    // `@defer` (their columns join the row kept for resolvers).
    for (const fragment of deferredSelections) {
      for (const nodes of this.fields(type, [fragment.selectionSet]).values()) {
        const field = type.getFields()[(nodes[0] as FieldNode).name.value];
        const plan = field && fieldPlan(field);
        if (plan?.kind !== 'resolver') continue;
        for (const name of plan.columns) rowColumns.push([name, column(name)]);
      }
    }
    const deferredPlans = deferredSelections.map((fragment, i) =>
      planDeferred(this, type, table.table, fragment.selectionSet, `${path}@${i}`),
    );
    this.deferredPlans.push(...deferredPlans);
    for (const [key, nodes] of fields) {
      const name = (nodes[0] as FieldNode).name.value;
      if (name === '__typename') {
        parts.push([key, constantShaper(type.name)]);
        continue;
      }
      const field = type.getFields()[name];
      if (!field) throw new Unplannable(`${type.name}.${name}`);
      const plan = fieldPlan(field);
      if (plan?.kind === 'globalId' && table.nodeKey) {
        const index = column(table.nodeKey);
        parts.push([
          key,
          computedShaper((values: Row) => encodeGlobalId(type.name, values[index] as string)),
        ]);
        continue;
      }
      if (!plan) throw new Unplannable(`${type.name}.${name}`);
      const subPath = `${path}.${key}`;
      switch (plan.kind) {
        case 'column':
          parts.push([key, at(slot(column(plan.column)), this.valueShaper(field.type, nodes))]);
          break;
        case 'computed': {
          const indexes = plan.columns.map((name): [string, number] => [name, column(name)]);
          const source = (values: Row) => {
            const record: Record<string, unknown> = {};
            for (const [name, index] of indexes) record[name] = values[index];
            return plan.value(record);
          };
          parts.push([key, at(source, this.valueShaper(field.type, nodes))]);
          break;
        }
        case 'relation':
          parts.push([
            key,
            nestedSlot(() => {
              const aliases = relationAliases(scope.b, table.table, plan.relation, plan);
              const { row, shape } = this.planRow(scope, field.type, nodes, subPath, aliases.child);
              const json = relationJson(table.table, alias, plan.relation, plan, aliases, row);
              return { json, shape };
            }),
          ]);
          break;
        case 'connection':
          parts.push([
            key,
            nestedSlot(() => planConnection(this, scope, field, plan.list, alias, nodes, subPath)),
          ]);
          break;
        case 'special': {
          if (plan.name !== 'exportStatus') throw new Unplannable(`${type.name}.${name}`);
          const { json, shape } = planExportStatus(this, scope, field, alias, nodes, subPath);
          parts.push([key, at(slot(row.add(undefined, () => json)), shape)]);
          break;
        }
        case 'resolver':
          this.mixed = true;
          for (const name of plan.columns) rowColumns.push([name, column(name)]);
          break;
        default:
          throw new Unplannable(`${type.name}.${name}`);
      }
    }
    const deferredMark =
      deferredPlans.length > 0 ? { idIndex: column('id'), plans: deferredPlans } : undefined;
    return objectShaper(parts, this.mark(type.name, rowColumns, deferredMark));
  }

  /**
   * The shaper of a value computed in Node (a column, a computed field, a property): a leaf
   * is serialized; an object is a value object whose fields are properties.
   */
  valueShaper(type: GraphQLOutputType, nodes: readonly FieldNode[]): Shaper<unknown, Bind> {
    const named = getNamedType(type);
    if (isLeafType(named)) return wrapShaper(type, leafShaper<Bind>(named as GraphQLLeafType));
    if (!isObjectType(named)) throw new Unplannable(`${named.name} value`);
    const parts: [string, Shaper<unknown, Bind>][] = [];
    for (const [key, fieldNodes] of this.fields(named, subSelections(nodes))) {
      const name = (fieldNodes[0] as FieldNode).name.value;
      if (name === '__typename') {
        parts.push([key, constantShaper(named.name)]);
        continue;
      }
      const field = named.getFields()[name];
      const plan = field && fieldPlan(field);
      if (!field || plan?.kind !== 'property') throw new Unplannable(`${named.name}.${name}`);
      const property = plan.property;
      parts.push([
        key,
        at(
          (value: unknown) => (value as Record<string, unknown>)[property],
          this.valueShaper(field.type, fieldNodes),
        ),
      ]);
    }
    return wrapShaper(type, objectShaper(parts, this.mark(named.name)));
  }
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
  incremental = false,
): OperationPlan {
  return new Planner(schema, collect, args).plan(operation, incremental);
}
