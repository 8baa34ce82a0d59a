/**
 * Every Relay connection over the store, declared once: which rows it lists (a table, the rows
 * a relation of the parent reaches, or the rows reached through link rows whose columns belong
 * to the edge), in which orders (each a keyset: ordering columns, ties broken by slug), with
 * which filter. The resolvers (old path), the planner (planned path), cursors and `totalCount`
 * all read these declarations.
 */
import { and, type SQL, sql } from 'drizzle-orm';
import { alias, type PgTable } from 'drizzle-orm/pg-core';
import { type Database, queryRows } from './client.js';
import {
  type CursorPart,
  type CursorScheme,
  type CursorShape,
  type CursorValues,
  decodeCursor,
} from './cursors.js';
import { type AnyFilter, filterWhere } from './filter-kit.js';
import { chipFilter, companyFilter, demandSignalFilter, policyDecisionFilter } from './filters.js';
import { columnName, relationOf, relationRows, type TableKey, tableOf } from './tables.js';

/** One ordering column of a list: a column of the listed rows, and its cursor part. */
export interface OrderKey {
  /** Column (TypeScript name) of the node table, e.g. `announcedOn`. */
  readonly column: string;
  readonly part: CursorPart;
}

/** A keyset order: columns compared as a row, all in one direction. */
export interface ListOrder {
  readonly direction: 'asc' | 'desc';
  readonly keys: readonly OrderKey[];
}

/** A declared connection. */
export interface ListDeclaration {
  /**
   * Where the list appears, e.g. `Company.chipsDesigned`: in messages, and in its cursors,
   * which no other list accepts.
   */
  readonly name: string;
  /** The table of the listed nodes. */
  readonly node: TableKey;
  /**
   * A related list: the parent's table and the relation from a parent row to the listed rows
   * (to the link rows, for a link list).
   */
  readonly parent?: { readonly table: TableKey; readonly relation: string };
  /**
   * A link list: the listed rows are link rows (their columns are the edge's fields), and the
   * node is the row this relation of the link table reaches.
   */
  readonly link?: { readonly table: TableKey; readonly node: string };
  /** Orders by the `orderBy` enum value; `default` when the list takes no `orderBy`. */
  readonly orders: Readonly<Record<string, ListOrder>>;
  readonly filter?: AnyFilter;
  /**
   * For a list reached through link rows: the link columns that copy the node's ordering
   * columns (node column -> link column, TypeScript names), so a page is read in order from
   * the link table's index (see `decisionSortKeys` in schema.ts).
   */
  readonly linkKeys?: Readonly<Record<string, string>>;
}

const byNameThenSlug: ListOrder = {
  direction: 'asc',
  keys: [
    { column: 'name', part: 'text' },
    { column: 'slug', part: 'slug' },
  ],
};
const announced = (direction: 'asc' | 'desc'): ListOrder => ({
  direction,
  keys: [
    { column: 'announcedOn', part: 'date' },
    { column: 'slug', part: 'slug' },
  ],
});
const observed = (direction: 'asc' | 'desc'): ListOrder => ({
  direction,
  keys: [
    { column: 'observedOn', part: 'date' },
    { column: 'slug', part: 'slug' },
  ],
});

/** The connections of the API. */
export const lists = {
  companies: {
    name: 'Query.companies',
    node: 'companies',
    orders: { default: byNameThenSlug },
    filter: companyFilter,
  },
  chips: {
    name: 'Query.chips',
    node: 'chips',
    orders: { default: byNameThenSlug },
    filter: chipFilter,
  },
  policyDecisions: {
    name: 'Query.policyDecisions',
    node: 'policyDecisions',
    orders: { ANNOUNCED_ON_DESC: announced('desc'), ANNOUNCED_ON_ASC: announced('asc') },
    filter: policyDecisionFilter,
  },
  demandSignals: {
    name: 'Query.demandSignals',
    node: 'demandSignals',
    orders: { OBSERVED_ON_DESC: observed('desc'), OBSERVED_ON_ASC: observed('asc') },
    filter: demandSignalFilter,
  },
  companyChipsDesigned: {
    name: 'Company.chipsDesigned',
    node: 'chips',
    parent: { table: 'companies', relation: 'chipsDesigned' },
    orders: { default: byNameThenSlug },
  },
  companyDemandSignals: {
    name: 'Company.demandSignals',
    node: 'demandSignals',
    parent: { table: 'companies', relation: 'demandSignals' },
    orders: { default: observed('desc') },
    filter: demandSignalFilter,
    linkKeys: { observedOn: 'signalObservedOn', slug: 'signalSlug' },
  },
  companyPolicyDecisions: {
    name: 'Company.policyDecisions',
    node: 'policyDecisions',
    parent: { table: 'companies', relation: 'policyDecisions' },
    orders: { default: announced('desc') },
    filter: policyDecisionFilter,
    linkKeys: { announcedOn: 'decisionAnnouncedOn', slug: 'decisionSlug' },
  },
  chipDemandSignals: {
    name: 'Chip.demandSignals',
    node: 'demandSignals',
    parent: { table: 'chips', relation: 'demandSignals' },
    orders: { default: observed('desc') },
    filter: demandSignalFilter,
  },
  chipPolicyDecisions: {
    name: 'Chip.policyDecisions',
    node: 'policyDecisions',
    parent: { table: 'chips', relation: 'policyDecisionLinks' },
    link: { table: 'policyDecisionChips', node: 'decision' },
    orders: { default: announced('desc') },
    filter: policyDecisionFilter,
    linkKeys: { announcedOn: 'decisionAnnouncedOn', slug: 'decisionSlug' },
  },
} as const satisfies Record<string, ListDeclaration>;

/** The order `orderBy` names (or the list's only order). */
export function listOrder(list: ListDeclaration, orderBy?: string | null): ListOrder {
  const order = (orderBy && list.orders[orderBy]) || list.orders.default;
  if (order) return order;
  const first = Object.values(list.orders)[0];
  if (!first) throw new Error(`${list.name} declares no order`);
  return first;
}

/**
 * How a list's cursors read: its name, and the parts of its ordering columns (every order of
 * a list has the same columns, in either direction: a cursor is a row's position in both).
 */
export function cursorScheme(list: ListDeclaration): CursorScheme {
  const shape: CursorShape = listOrder(list).keys.map((key) => key.part);
  return { list: list.name, shape };
}

/** Decodes `after` or `before` of `list`; throws `BadUserInputError` for a foreign cursor. */
export function decodeListCursor(
  list: ListDeclaration,
  argument: 'after' | 'before',
  cursor: string,
): CursorValues {
  return decodeCursor(argument, cursor, cursorScheme(list));
}

/**
 * The keyset condition of a page: rows after `after` and before `before` in the list's order,
 * comparing the ordering columns (`columns`, SQL over the listed row) as one row value.
 */
export function keysetWhere(
  order: ListOrder,
  columns: readonly (SQL | SQL.Aliased | unknown)[],
  after: readonly unknown[] | undefined,
  before: readonly unknown[] | undefined,
): SQL | undefined {
  const row = sql`(${sql.join(
    columns.map((column) => sql`${column}`),
    sql`, `,
  )})`;
  const values = (cursor: readonly unknown[]) =>
    sql`(${sql.join(
      cursor.map((value, i) => sql`${value}::${sql.raw(PG_TYPE[order.keys[i]?.part ?? 'text'])}`),
      sql`, `,
    )})`;
  const ascending = order.direction === 'asc';
  const conditions: SQL[] = [];
  if (after) conditions.push(sql`${row} ${sql.raw(ascending ? '>' : '<')} ${values(after)}`);
  if (before) conditions.push(sql`${row} ${sql.raw(ascending ? '<' : '>')} ${values(before)}`);
  return conditions.length ? sql.join(conditions, sql` and `) : undefined;
}

/** The Postgres type a cursor value is compared as (text in the `C` collation of the columns). */
const PG_TYPE: Record<CursorPart, string> = {
  text: 'text',
  slug: 'text',
  date: 'date',
  id: 'bigint',
  instant: 'timestamptz',
  rank: 'int',
};

/**
 * How a related list's rows reach their parent: the FROM clause (the listed table's alias
 * `n`, joined to its link rows `l` when the relation goes through a link table or the list is
 * a link list; see `relationRows`) and the SQL of the parent key each row belongs to.
 */
export function relatedRows(list: ListDeclaration): {
  from: SQL;
  /** Alias of the node table in `from`. */
  node: PgTable;
  /** The parent row id each listed row belongs to. */
  parentKey: SQL;
} {
  if (!list.parent) throw new Error(`${list.name} is not a related list`);
  const relation = relationOf(list.parent.table, list.parent.relation);
  if (!list.link && !relation.throughTable && relation.relationType === 'one') {
    throw new Error(`${list.name}: not a list relation`);
  }
  const node = alias(tableOf(list.node), 'n') as unknown as PgTable;
  const rows = relationRows(
    list.parent.table,
    list.parent.relation,
    node,
    () => sql`${sql.identifier('l')}`,
    list.link,
  );
  const [parentKey] = rows.parentKeys;
  if (!parentKey) throw new Error(`${list.name}: the relation has no key`);
  return { from: rows.from, node, parentKey };
}

/**
 * `totalCount` of a related list for many parents at once: how many rows each parent id has
 * under `filter` (one statement; parents without rows are absent from the map).
 */
export async function countRelated(
  db: Database,
  list: ListDeclaration,
  parentIds: readonly number[],
  filter: Record<string, unknown> | null | undefined,
): Promise<Map<number, number>> {
  const { from, node, parentKey } = relatedRows(list);
  const where = list.filter ? filterWhere(list.filter, node, filter) : undefined;
  const rows = await queryRows<{ parent: number; count: number }>(
    db,
    sql`select ${parentKey} as parent, count(*)::int as count from ${from}
         where ${parentKey} = any(${sql.param([...parentIds])}::int[])${where ? sql` and ${where}` : sql``}
         group by 1`,
  );
  return new Map(rows.map((row) => [Number(row.parent), Number(row.count)]));
}

/** `totalCount` of a root list under `filter`. */
export async function countRoot(
  db: Database,
  list: ListDeclaration,
  filter: Record<string, unknown> | null | undefined,
): Promise<number> {
  const table = tableOf(list.node);
  const where = list.filter ? filterWhere(list.filter, table, filter) : undefined;
  return db.$count(table, where);
}

/** The TypeScript name of a link list's column that points at the node (e.g. `decisionId`). */
export function linkToNode(list: ListDeclaration): string {
  if (!list.link) throw new Error(`${list.name} is not a link list`);
  const toNode = relationOf(list.link.table, list.link.node);
  const target = toNode.sourceColumns[0];
  const table = tableOf(list.link.table) as unknown as Record<string, unknown>;
  const key = Object.keys(table).find((name) => table[name] === target);
  if (!key) throw new Error(`${list.name}: no link column to the node`);
  return key;
}

/** A page request as the paging rule sees it: its size, direction and which cursors it has. */
export interface PageRequest {
  readonly size: number;
  /** Paging from the end (`last`, with `before`). */
  readonly backward: boolean;
  readonly after: boolean;
  readonly before: boolean;
}

/**
 * The paging rule of every list (resolvers and planner alike). A page is read with one
 * look-ahead row (at most `size + 1` rows), which is dropped; the rows come in read order
 * (`read`: reversed when paging backwards, the look-ahead row last) or already in the list's
 * order (`list`: the look-ahead row is the first when paging backwards). Answers the page's
 * rows in the list's order and its `pageInfo` flags: paging forwards, `hasNextPage` is whether
 * the look-ahead row came and `hasPreviousPage` whether `after` was given; backwards, the
 * other way round.
 */
export function pageWindow<T>(
  rows: readonly T[],
  page: PageRequest,
  order: 'read' | 'list',
): { rows: T[]; hasNextPage: boolean; hasPreviousPage: boolean } {
  const hasMore = rows.length > page.size;
  let kept: T[];
  if (order === 'read') {
    kept = rows.slice(0, page.size);
    if (page.backward) kept.reverse();
  } else {
    kept =
      hasMore && page.backward ? rows.slice(rows.length - page.size) : rows.slice(0, page.size);
  }
  return {
    rows: kept,
    hasNextPage: page.backward ? page.before : hasMore,
    hasPreviousPage: page.backward ? hasMore : page.after,
  };
}

/**
 * The condition of a page over the listed rows `t`: the filter and the keyset. For a link
 * list `t` is the link row, and node columns are read through it (`linkedNodeColumn`).
 */
export function pageWhere(
  list: ListDeclaration,
  order: ListOrder,
  t: unknown,
  filter: Record<string, unknown> | null | undefined,
  after: readonly unknown[] | undefined,
  before: readonly unknown[] | undefined,
): SQL {
  const row = t as Record<string, unknown>;
  if (list.link) {
    const node = sql.identifier('n');
    const nodeTable = tableOf(list.node);
    const where = list.filter ? filterWhere(list.filter, alias(nodeTable, 'n'), filter) : undefined;
    const linkKey = row[linkToNode(list)];
    return (
      and(
        where
          ? sql`exists (select 1 from ${nodeTable} ${node} where ${node}.id = ${linkKey} and ${where})`
          : undefined,
        keysetWhere(
          order,
          order.keys.map((key) => linkedNodeColumn(list, key.column, row)),
          after,
          before,
        ),
      ) ?? sql`true`
    );
  }
  return (
    and(
      list.filter ? filterWhere(list.filter, t, filter) : undefined,
      keysetWhere(
        order,
        order.keys.map((key) => row[key.column]),
        after,
        before,
      ),
    ) ?? sql`true`
  );
}

/** For a link list: a column of the node, read from a link row (a scalar subquery). */
export function linkedNodeColumn(
  list: ListDeclaration,
  column: string,
  linkRow: Record<string, unknown>,
): SQL {
  const node = sql.identifier('n');
  return sql`(select ${node}.${sql.identifier(columnName(list.node, column))} from ${tableOf(list.node)} ${node} where ${node}.id = ${linkRow[linkToNode(list)]})`;
}

/** drizzle's relational `findMany` on a table by key, for queries Pothos plans. */
export function findMany(
  db: Database,
  table: TableKey,
  query: Record<string, unknown>,
): Promise<Record<string, unknown>[]> {
  const finder = (db.query as unknown as Record<string, { findMany?: unknown }>)[table];
  if (typeof finder?.findMany !== 'function') throw new Error(`no relational query for ${table}`);
  return (finder.findMany as (query: unknown) => Promise<Record<string, unknown>[]>).call(
    finder,
    query,
  );
}

/** For a link list: its ordering as SQL over a link row, in `direction`. */
export function linkedNodeOrder(
  list: ListDeclaration,
  order: ListOrder,
  direction: 'asc' | 'desc',
  linkRow: Record<string, unknown>,
): SQL[] {
  return order.keys.map(
    (key) => sql`${linkedNodeColumn(list, key.column, linkRow)} ${sql.raw(direction)}`,
  );
}
