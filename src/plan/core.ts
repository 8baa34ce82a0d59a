/**
 * The planner's shared core: what a request binds into a plan, the plans it produces, and the
 * helpers every planning module uses (rows of JSON slots, argument lookup, memoized decoding).
 * A leaf of `src/plan/`: `compile.ts`, `compile-lists.ts`, `compile-special.ts` and
 * `compile-deferred.ts` all import it, and it imports none of them. The planning modules reach
 * the planner through `Planning` (implemented by `compile.ts`' `Planner`), so `compile.ts`
 * imports them and none of them imports it.
 */
import type { SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type {
  FieldNode,
  GraphQLObjectType,
  GraphQLOutputType,
  GraphQLSchema,
  SelectionSetNode,
} from 'graphql';
import type { CompiledStatement, StatementBuilder } from '../db/plan-sql.js';
import type { TableKey } from '../db/tables.js';
import type { CollectContext } from './collect.js';
import { type PlannedObject, type Shaper, Unplanned } from './shapes.js';

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
  /** The parent row ids a deferred plan loads (see `DeferredPlan`). */
  readonly ids?: readonly unknown[];
  /**
   * Filled while the initial result is shaped: the ids of the rows under each deferred
   * fragment, which its statement then loads in one go.
   */
  readonly deferredIds?: Map<DeferredPlan, unknown[]>;
}

/**
 * A `@defer` fragment on a table-backed object, planned apart from the initial result: one
 * statement that loads the fragment's selection for every parent row the initial result holds
 * (`where id = any($ids)`), run after the initial statements, never once per row. Its `r` is
 * `[[id, row], ...]`; `shape` turns a row into the object whose keys the fragment answers.
 */
export interface DeferredPlan {
  readonly statement: CompiledStatement<Bind>;
  readonly shape: Shaper<Row, Bind>;
  /** The tables the statement reads. */
  readonly tables: ReadonlySet<TableKey>;
  /** The response keys the statement answers (fields resolved around the plan excluded). */
  readonly keys: ReadonlySet<string>;
}

/** A row's positional array, as a statement returns it. */
export type Row = readonly unknown[];

/** A statement and the shaping of its `r` column into a response value. */
export interface StatementPlan {
  readonly statement: CompiledStatement<Bind>;
  readonly shape: Shaper<unknown, Bind>;
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
  /** The `@defer` fragments planned apart (queries only; see `DeferredPlan`). */
  readonly deferred: readonly DeferredPlan[];
}

/** The operation cannot be planned (a field without planning metadata): resolvers answer it. */
export class Unplannable extends Error {
  constructor(where: string) {
    super(`not plannable: ${where}`);
    this.name = 'Unplannable';
  }
}

/** A row being planned: the slots of its JSON array, deduplicated by key. */
export class RowBuilder {
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

/** Everything a statement's planning shares: its builder and the tables it reads. */
export interface StatementScope {
  readonly b: StatementBuilder<Bind>;
  readonly tables: Set<TableKey>;
}

/** The coerced arguments of `node` in the request being served. */
export const argsAt = (bind: Bind, node: FieldNode): Record<string, unknown> =>
  bind.args.get(node) ?? {};

/** Memoizes a per-request decoding; errors become `Unplanned` (the resolvers report them). */
export function memo<T>(bind: Bind, key: unknown, compute: () => T): T {
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

/**
 * What the planning modules (`compile-lists.ts`, `compile-special.ts`, `compile-deferred.ts`)
 * use of the planner: implemented by `Planner` (`compile.ts`), which hands itself to them.
 */
export interface Planning {
  readonly schema: GraphQLSchema;
  readonly collect: CollectContext;
  /**
   * Whether `planObject` plans `@defer` fragments apart now (not inside one; see
   * `compile-deferred.ts`).
   */
  splitDeferred: boolean;
  /** Plan-time arguments of a field (they decide the plan's shape, never its values). */
  argsOf(node: FieldNode): Record<string, unknown>;
  /** The fields of `selections` for an object of `type`, by response key. */
  fields(
    type: GraphQLObjectType,
    selections: readonly SelectionSetNode[],
  ): Map<string, FieldNode[]>;
  /** The object type a field returns (unwrapped); throws `Unplannable` when it is abstract. */
  objectTypeOf(type: GraphQLOutputType | undefined): GraphQLObjectType;
  /**
   * A nested row of `type` over `alias`: its JSON array, and the shaper of the value around it
   * (see `Planner.planRow`).
   */
  planRow(
    scope: StatementScope,
    type: GraphQLOutputType,
    nodes: readonly FieldNode[],
    path: string,
    alias: PgTable,
  ): { row: SQL; shape: Shaper<unknown, Bind> };
  /** The selection of a table-backed object whose row is `alias`, added to `row`. */
  planObject(
    scope: StatementScope,
    row: RowBuilder,
    type: GraphQLObjectType,
    alias: PgTable,
    selections: readonly SelectionSetNode[],
    path: string,
  ): Shaper<Row, Bind>;
  /** The shaper of a value computed in Node (a leaf, or a value object of properties). */
  valueShaper(type: GraphQLOutputType, nodes: readonly FieldNode[]): Shaper<unknown, Bind>;
  /** The marks of an object in mixed plans (see `Planner.mark`). */
  mark(typeName: string): (object: PlannedObject, values: unknown, bind: Bind) => void;
}
