/**
 * What the planner reads from the schema: each type backed by a table (its table and the
 * column its global ID is made of), and how each field's value is computed from the store.
 *
 * Most of it is derived, in one place (`typePlan`/`fieldPlan` below), from what the Pothos
 * builder already records: plugin-drizzle's `pothosDrizzleModel` and the `drizzleNode` id
 * column for a type; `pothosExposedField` for a field exposing a column (on a table-backed
 * type) or a property (on a value object); plugin-drizzle's relation `select` for a
 * `t.relation` (its relation name and its `query.orderBy`). So a plain column or a relation
 * is declared once, by its `t.expose*`/`t.relation`, and both paths (resolvers and planner)
 * read that declaration.
 *
 * Fields that are not derivable declare their plan beside the field, in its `extensions`,
 * with the helpers below (a computed value, a related list, a lookup, a relation read in a
 * way `t.relation` cannot say, a field with rules of its own); a field with no plan at all is
 * resolved around the plan by its own resolver (external sources, mutations, the viewer).
 */
import type { GraphQLObjectType, GraphQLResolveInfo } from 'graphql';
import type { ListDeclaration } from '../db/lists.js';
import type { ExportStatusSlot } from '../db/plan-layout.js';
import type { TableKey } from '../db/tables.js';

/** The key of the planner's metadata in GraphQL `extensions`. */
export const PLAN = 'chipgatePlan';

/** An ordering column of a relation list: of the related table, or of the link rows. */
export interface RelationOrder {
  readonly column: string;
  readonly direction: 'asc' | 'desc';
  /** `link`: a column of the link table a `through` relation crosses (e.g. `position`). */
  readonly of?: 'link';
}

/** How the planner computes one field. */
export type FieldPlan =
  /** The value of a column of the parent's row (TypeScript column name). */
  | { readonly kind: 'column'; readonly column: string }
  /** Computed in Node from columns of the parent's row. */
  | {
      readonly kind: 'computed';
      readonly columns: readonly string[];
      readonly value: (row: Record<string, unknown>) => unknown;
    }
  /** A property of a value object (a JSON column, a computed object). */
  | { readonly kind: 'property'; readonly property: string }
  /**
   * A drizzle relation of the parent's table: one row (or null), or a list in `order`;
   * `first`: only the first row of the list (e.g. the latest of several); `latest`: only the
   * last `latest` rows of the list, still in `order` (a history that keeps growing).
   */
  | {
      readonly kind: 'relation';
      readonly relation: string;
      readonly order?: readonly RelationOrder[];
      readonly first?: boolean;
      readonly latest?: number;
    }
  /** A Relay connection declared in `src/db/lists.ts`. */
  | { readonly kind: 'connection'; readonly list: ListDeclaration }
  /** A root field: the row of `table` whose `column` equals the argument `argument`. */
  | {
      readonly kind: 'lookup';
      readonly table: TableKey;
      readonly column: string;
      readonly argument: string;
    }
  /** A root or object field with planning rules of its own (`node`, `nodes`, `timeline`, ...). */
  | { readonly kind: 'special'; readonly name: SpecialField }
  /**
   * A part of a page of a connection: a field of the connection (`edges`, `pageInfo`,
   * `totalCount`), of its edges (`cursor`, `node`) or of its page info. Declared where Pothos'
   * relay options and our connection helpers declare those fields.
   */
  | { readonly kind: 'page'; readonly part: PagePart }
  /** A node's global ID, made of its type name and its table's ID column (`TypePlan.nodeKey`). */
  | { readonly kind: 'globalId' }
  /**
   * A field of `ExportStatus`: an argument of `Chip.exportStatus` it repeats (`asOf` defaults to
   * today), or a slot of the export status row (`EXPORT_STATUS_SLOTS` in `src/db/plan-layout.ts`).
   */
  | { readonly kind: 'exportStatus'; readonly part: ExportStatusPart }
  /**
   * Resolved around the plan by `resolve`, given the columns it reads from the parent row
   * (external sources).
   */
  | {
      readonly kind: 'resolver';
      /** Why the planner cannot compute it (e.g. the external source it reads). */
      readonly reason: string;
      readonly columns: readonly string[];
      readonly resolve: (
        row: Record<string, unknown>,
        args: Record<string, unknown>,
        /** The request's `Context` (typed by the field's resolver). */
        ctx: unknown,
        info: GraphQLResolveInfo,
      ) => unknown;
    }
  /**
   * A mutation or subscription payload field whose value is a stored row (its `id` column
   * read by `id`): the planner loads the selection under it with one planned statement.
   */
  | {
      readonly kind: 'entity';
      readonly table: TableKey;
      readonly id: (parent: unknown) => number;
    };

/** Fields with planning rules of their own. */
export type SpecialField = 'node' | 'nodes' | 'timeline' | 'exportStatus';

/** The parts of a connection page (see `FieldPlan` `page`). */
export type PagePart =
  | 'edges'
  | 'pageInfo'
  | 'totalCount'
  | 'cursor'
  | 'node'
  | 'hasNextPage'
  | 'hasPreviousPage'
  | 'startCursor'
  | 'endCursor';

/** The parts of an export status (see `FieldPlan` `exportStatus`). */
export type ExportStatusPart = 'from' | 'to' | 'asOf' | ExportStatusSlot;

/** What a type backed by a table declares. */
export interface TypePlan {
  readonly table: TableKey;
  /** Column the global ID key is made of (node types only). */
  readonly nodeKey?: 'slug' | 'id';
}

/**
 * The `extensions` of a field whose value is the column `name` of the row it is read from,
 * where Pothos records no expose (an edge field read from a link row). A `t.expose*` of a
 * table-backed type needs none: its plan is derived.
 */
export const column = (name: string) => ({ [PLAN]: { kind: 'column', column: name } as FieldPlan });

/** The `extensions` of a field of a value object read from its property `name`. */
export const property = (name: string) => ({
  [PLAN]: { kind: 'property', property: name } as FieldPlan,
});

/** The `extensions` of a field the planner plans by its own rules. */
export const special = (name: SpecialField) => ({
  [PLAN]: { kind: 'special', name } as FieldPlan,
});

/** The `extensions` of a part of a connection page (a field of a connection, edge or page info). */
export const pagePart = (part: PagePart) => ({ [PLAN]: { kind: 'page', part } as FieldPlan });

/** The `extensions` of a node's global ID field. */
export const globalId = () => ({ [PLAN]: { kind: 'globalId' } as FieldPlan });

/** The `extensions` of a field of `ExportStatus`. */
export const exportStatusPart = (part: ExportStatusPart) => ({
  [PLAN]: { kind: 'exportStatus', part } as FieldPlan,
});

/** The `extensions` of a connection declared in `src/db/lists.ts`. */
export const connection = (list: ListDeclaration) => ({
  [PLAN]: { kind: 'connection', list } as FieldPlan,
});

/** drizzle's relational-query `orderBy` object of an order (reversed: every direction flipped). */
function drizzleOrderBy(order: readonly RelationOrder[], reversed = false) {
  return Object.fromEntries(
    order.map(({ column, direction }) => [
      column,
      reversed ? (direction === 'asc' ? 'desc' : 'asc') : direction,
    ]),
  ) as Record<string, 'asc' | 'desc'>;
}

/** The nested-selection callback Pothos hands a drizzle field's `select`. */
type NestedSelection = (selection?: Record<string, unknown>, path?: string[]) => unknown;

/**
 * Options of a relation field read in a way `t.relation` cannot say (a plain `t.relation`,
 * with its `query.orderBy`, needs nothing: its plan is derived). The order is stated once, in
 * `order`; this emits the drizzle `select`, the resolver and the planner's metadata from it:
 * - `first`: the first row in `order`, or null (e.g. the latest of several);
 * - `latest: n`: only the last `n` rows in `order`, still in `order` (a history that keeps
 *   growing; read backwards with a limit);
 * - `through: { links, node }`: a many-to-many relation `relation` read over its link rows
 *   `links` (each holding the row under `node`), ordered by columns of the link rows.
 */
export function orderedRelation(
  relation: string,
  order: readonly RelationOrder[],
  options: {
    readonly first?: true;
    readonly latest?: number;
    readonly through?: { readonly links: string; readonly node: string };
  } = {},
) {
  const { first, latest, through } = options;
  const rows = (parent: object, name: string) =>
    (parent as Record<string, readonly Record<string, unknown>[]>)[name] ?? [];
  const plan: FieldPlan = {
    kind: 'relation',
    relation,
    order: through ? order.map((entry) => ({ ...entry, of: 'link' as const })) : order,
    ...(first ? { first } : {}),
    ...(latest !== undefined ? { latest } : {}),
  };
  const select = (_args: unknown, _ctx: unknown, nested: NestedSelection) => {
    if (through) {
      return {
        with: {
          [through.links]: {
            orderBy: drizzleOrderBy(order),
            with: { [through.node]: nested() },
          },
        },
      };
    }
    if (first)
      return { with: { [relation]: nested({ orderBy: drizzleOrderBy(order), limit: 1 }) } };
    if (latest !== undefined) {
      return {
        with: { [relation]: nested({ orderBy: drizzleOrderBy(order, true), limit: latest }) },
      };
    }
    return { with: { [relation]: nested({ orderBy: drizzleOrderBy(order) }) } };
  };
  const resolve = (parent: object): never => {
    if (through) {
      return rows(parent, through.links).map((link) => link[through.node]) as never;
    }
    const found = rows(parent, relation);
    if (first) return (found[0] ?? null) as never;
    if (latest !== undefined) return [...found].reverse() as never;
    return found as never;
  };
  return { select, resolve, extensions: { [PLAN]: plan } };
}

/** The `extensions` of a root lookup by an argument (e.g. `company(slug:)`). */
export const lookup = (table: TableKey, columnName: string, argument: string) => ({
  [PLAN]: { kind: 'lookup', table, column: columnName, argument } as FieldPlan,
});

/**
 * Options of a field resolved around the plan (an external source), saying why (`reason`):
 * the drizzle `select` of the parent columns it reads, its resolver, and the planner's
 * metadata, from one function.
 * The planner loads `columns` with the parent row and calls `resolve` with them.
 */
export function resolvedAround<
  Columns extends string,
  Row extends Record<Columns, unknown>,
  Args,
  Ctx,
  Info,
  R,
>(
  reason: string,
  columns: readonly Columns[],
  resolve: (row: Row, args: Args, ctx: Ctx, info: Info) => R,
) {
  return {
    select: {
      columns: Object.fromEntries(columns.map((name) => [name, true])) as Record<Columns, true>,
    },
    resolve,
    extensions: {
      [PLAN]: {
        kind: 'resolver',
        reason,
        columns,
        resolve: resolve as unknown as (
          row: Record<string, unknown>,
          args: Record<string, unknown>,
          ctx: unknown,
          info: GraphQLResolveInfo,
        ) => unknown,
      } as FieldPlan,
    },
  };
}

/** The `extensions` of a payload field holding a stored row of `table`. */
export const entity = <Parent>(table: TableKey, id: (parent: Parent) => number) => ({
  [PLAN]: { kind: 'entity', table, id: id as (parent: unknown) => number } as FieldPlan,
});

/**
 * Options of a field computed from columns of its parent row: the drizzle `select` that loads
 * them, the resolver, and the planner's metadata, from one function.
 */
export function computed<Columns extends string, Row extends Record<Columns, unknown>, V>(
  columns: readonly Columns[],
  value: (row: Row) => V,
) {
  return {
    select: {
      columns: Object.fromEntries(columns.map((name) => [name, true])) as Record<Columns, true>,
    },
    resolve: (row: Row) => value(row),
    extensions: {
      [PLAN]: {
        kind: 'computed',
        columns,
        value: value as (row: Record<string, unknown>) => unknown,
      } as FieldPlan,
    },
  };
}

/** Plans derived so far, by the field's `extensions` object (shared by mapped schemas). */
const derivedFields = new WeakMap<object, FieldPlan | null>();
/** Type plans derived so far, by the type's `extensions` object. */
const derivedTypes = new WeakMap<object, TypePlan | null>();

/** The part of a field's `extensions` the derivation reads (recorded by Pothos). */
interface PothosFieldRecord {
  readonly [PLAN]?: FieldPlan;
  /** `t.expose*`: the property (column) the field exposes. */
  readonly pothosExposedField?: unknown;
  /** The field's builder kind: `DrizzleObject` for fields of table-backed types. */
  readonly pothosConfig?: { readonly kind?: string };
  /** plugin-drizzle's selection of the field (`t.relation`: a function of the nested one). */
  readonly pothosDrizzleSelect?: unknown;
  /** plugin-drizzle's check that a `t.relation` was loaded. */
  readonly pothosDrizzleLoaded?: unknown;
}

/** drizzle's relational-query `orderBy` object as the planner's relation order. */
function orderOf(orderBy: unknown): RelationOrder[] | undefined {
  if (!orderBy || typeof orderBy !== 'object') return undefined;
  return Object.entries(orderBy as Record<string, unknown>).map(([column, direction]) => {
    if (direction !== 'asc' && direction !== 'desc') {
      throw new Error(`relation order ${column}: expected asc or desc`);
    }
    return { column, direction };
  });
}

/**
 * The relation a `t.relation` field reads, from plugin-drizzle's own selection of it: called
 * with an identity nested selection, it answers `{ with: { <relation>: <query> } }`, whose
 * query carries the field's `orderBy`.
 */
function relationPlanOf(select: (...args: unknown[]) => unknown): FieldPlan | undefined {
  const selection = select({}, {}, (query: unknown) => query ?? {}) as
    | { with?: Record<string, { orderBy?: unknown } | undefined> }
    | undefined;
  const entries = Object.entries(selection?.with ?? {});
  const [entry] = entries;
  if (entries.length !== 1 || !entry) return undefined;
  const [name, query] = entry;
  const order = orderOf(query?.orderBy);
  return { kind: 'relation', relation: name, ...(order ? { order } : {}) };
}

/** Derives the plan of a field from its `extensions` (see the module comment). */
function deriveFieldPlan(record: PothosFieldRecord): FieldPlan | undefined {
  const declared = record[PLAN];
  if (declared) return declared;
  if (typeof record.pothosExposedField === 'string') {
    return record.pothosConfig?.kind === 'DrizzleObject'
      ? { kind: 'column', column: record.pothosExposedField }
      : { kind: 'property', property: record.pothosExposedField };
  }
  if (
    typeof record.pothosDrizzleLoaded === 'function' &&
    typeof record.pothosDrizzleSelect === 'function'
  ) {
    return relationPlanOf(record.pothosDrizzleSelect as (...args: unknown[]) => unknown);
  }
  return undefined;
}

/**
 * The plan of a field: declared beside it, or derived from what Pothos recorded (see the
 * module comment); undefined when its resolver answers it. Takes a field or a field config.
 */
export function fieldPlan(field: {
  readonly extensions?: Readonly<Record<string, unknown>> | null;
}): FieldPlan | undefined {
  const extensions = field.extensions;
  if (!extensions) return undefined;
  let plan = derivedFields.get(extensions);
  if (plan === undefined) {
    plan = deriveFieldPlan(extensions as PothosFieldRecord) ?? null;
    derivedFields.set(extensions, plan);
  }
  return plan ?? undefined;
}

/**
 * The TypeScript name of the column a `drizzleNode`'s global ID is made of: plugin-drizzle's
 * resolver of the type's global ID field (`pothosOriginalResolve`; its `globalId` plan comes
 * from the relay plugin's `idFieldOptions`) reads it from the parent row,
 * so it is asked once with a row that records which property is read.
 */
function nodeKeyOf(type: GraphQLObjectType): TypePlan['nodeKey'] {
  const idField = Object.values(type.getFields()).find(
    (field) => fieldPlan(field)?.kind === 'globalId',
  );
  const resolve = idField?.extensions?.pothosOriginalResolve;
  if (typeof resolve !== 'function') return undefined;
  const read: string[] = [];
  const row = new Proxy(
    {},
    {
      get: (_target, property) => {
        if (typeof property === 'string') read.push(property);
        return '0';
      },
    },
  );
  resolve(row, {}, {}, {});
  const [name, ...more] = read;
  if (more.length > 0 || (name !== 'slug' && name !== 'id')) {
    throw new Error(`${type.name}: global ID made of ${read.join(', ') || 'nothing'}, not planned`);
  }
  return name;
}

/**
 * The table behind a type, if any: plugin-drizzle's model (`pothosDrizzleModel`) of a
 * `drizzleObject`/`drizzleNode`, and, for a node, the column its global ID is made of.
 */
export function typePlan(type: GraphQLObjectType): TypePlan | undefined {
  const extensions = type.extensions;
  if (!extensions) return undefined;
  let plan = derivedTypes.get(extensions);
  if (plan === undefined) {
    const model = extensions.pothosDrizzleModel;
    if (typeof model === 'string') {
      const nodeKey = nodeKeyOf(type);
      plan = { table: model as TableKey, ...(nodeKey ? { nodeKey } : {}) };
    } else plan = null;
    derivedTypes.set(extensions, plan);
  }
  return plan ?? undefined;
}
