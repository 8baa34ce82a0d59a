/**
 * What the planner reads from the schema: each type backed by a table says which table (and
 * which column its global ID is made of), and each field says how its value is computed from
 * the store. Schema modules declare it beside the field, in the field's `extensions`, with
 * the helpers below; the resolver (old path) and the planner (planned path) both derive from
 * the same declaration, so the planner is not a second schema to keep in sync.
 *
 * A field without a plan is resolved around the plan by its own resolver (external sources,
 * mutations, the viewer).
 */
import type { GraphQLField, GraphQLObjectType, GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.js';
import type { ListDeclaration, TableKey } from '../db/lists.js';

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
      /** For a `through` relation: the object is the link row, with the node under `node`. */
      readonly throughTo?: string;
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
  /** A field the planner knows by name (`node`, `nodes`, `timeline`, `exportStatus`, ...). */
  | { readonly kind: 'special'; readonly name: SpecialField }
  /**
   * Resolved around the plan by `resolve`, given the columns it reads from the parent row
   * (external sources).
   */
  | {
      readonly kind: 'resolver';
      readonly columns: readonly string[];
      readonly resolve: (
        row: Record<string, unknown>,
        args: Record<string, unknown>,
        ctx: Context,
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
export type SpecialField =
  | 'node'
  | 'nodes'
  | 'timeline'
  | 'exportStatus'
  | 'exportStatus.chip'
  | 'exportStatus.decision'
  | 'connectionTotalCount';

/** What a type backed by a table declares. */
export interface TypePlan {
  readonly table: TableKey;
  /** Column the global ID key is made of (node types only). */
  readonly nodeKey?: 'slug' | 'id';
}

/** The `extensions` of a field whose value is the column `column` of the parent row. */
export const column = (name: string) => ({ [PLAN]: { kind: 'column', column: name } as FieldPlan });

/** The `extensions` of a field of a value object read from its property `name`. */
export const property = (name: string) => ({
  [PLAN]: { kind: 'property', property: name } as FieldPlan,
});

/** The `extensions` of a field the planner plans by its own rules. */
export const special = (name: SpecialField) => ({
  [PLAN]: { kind: 'special', name } as FieldPlan,
});

/** The `extensions` of a connection declared in `src/db/lists.ts`. */
export const connection = (list: ListDeclaration) => ({
  [PLAN]: { kind: 'connection', list } as FieldPlan,
});

/** The `extensions` of a relation field. */
export const relation = (
  name: string,
  options: {
    order?: readonly RelationOrder[];
    first?: boolean;
    /** Only the last `latest` rows in `order` (a list that keeps growing), still in `order`. */
    latest?: number;
    throughTo?: string;
  } = {},
) => ({ [PLAN]: { kind: 'relation', relation: name, ...options } as FieldPlan });

/** The `extensions` of a root lookup by an argument (e.g. `company(slug:)`). */
export const lookup = (table: TableKey, columnName: string, argument: string) => ({
  [PLAN]: { kind: 'lookup', table, column: columnName, argument } as FieldPlan,
});

/**
 * Options of a field resolved around the plan (an external source): the drizzle `select` of
 * the parent columns it reads, its resolver, and the planner's metadata, from one function.
 * The planner loads `columns` with the parent row and calls `resolve` with them.
 */
export function resolvedAround<
  Columns extends string,
  Row extends Record<Columns, unknown>,
  Args,
  Ctx,
  Info,
  R,
>(columns: readonly Columns[], resolve: (row: Row, args: Args, ctx: Ctx, info: Info) => R) {
  return {
    select: {
      columns: Object.fromEntries(columns.map((name) => [name, true])) as Record<Columns, true>,
    },
    resolve,
    extensions: {
      [PLAN]: {
        kind: 'resolver',
        columns,
        resolve: resolve as unknown as (
          row: Record<string, unknown>,
          args: Record<string, unknown>,
          ctx: Context,
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

/** The `extensions` of a type backed by `table`. */
export const storeType = (plan: TypePlan) => ({ [PLAN]: plan });

/** The plan a field declares, if any. */
export function fieldPlan(field: GraphQLField<unknown, unknown>): FieldPlan | undefined {
  return field.extensions?.[PLAN] as FieldPlan | undefined;
}

/** The plan a type declares, if it is backed by a table. */
export function typePlan(type: GraphQLObjectType): TypePlan | undefined {
  return type.extensions?.[PLAN] as TypePlan | undefined;
}
