/**
 * The store's tables and relations by their relations key (`companies`, `policyDecisions`,
 * ...), and how a relation reaches its rows (`relationRows`): the one definition the resolvers'
 * related counts (`lists.ts`) and the planner's SQL (`plan-sql.ts`) share.
 */
import { type AnyRelations, type Relation, type SQL, sql, type Table } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { relations } from './relations.js';

/** A table of the store by its relations key (`companies`, `policyDecisions`, ...). */
export type TableKey = keyof typeof relations & string;

/** A drizzle relation, with the link table and columns of one that goes `through` one. */
export type AnyRelation = Relation & { throughTable?: Table; through?: unknown };

/** A relation of a table by name; throws when the relations config has none. */
export function relationOf(table: TableKey, name: string): AnyRelation {
  const relation = (relations as AnyRelations)[table]?.relations[name] as AnyRelation | undefined;
  if (!relation) throw new Error(`no relation ${table}.${name}`);
  return relation;
}

/** The drizzle table object of a table key. */
export function tableOf(table: TableKey): PgTable {
  return (relations as AnyRelations)[table]?.table as PgTable;
}

/** The column objects a relation's `through` part names on its link table. */
function throughColumns(relation: AnyRelation, side: 'source' | 'target') {
  const through = relation.through as
    | {
        source: { _: { column: { name: string } } }[];
        target: { _: { column: { name: string } } }[];
      }
    | undefined;
  return (through?.[side] ?? []).map((ref) => ref._.column.name);
}

/** The rows a relation reaches, as `relationRows` joins them. */
export interface RelationRows {
  /** The FROM clause: the related rows' alias `node`, joined to the link rows when there are. */
  readonly from: SQL;
  /** Per key column: the SQL (over `from`) of the parent key each row belongs to. */
  readonly parentKeys: readonly SQL[];
  /** Per key column: the SQL name of the parent's column that `parentKeys` equal. */
  readonly parentColumns: readonly string[];
  /** The link rows' alias, when `from` goes through link rows. */
  readonly link?: SQL;
}

/**
 * How a relation reaches its rows, the one definition every path uses (the resolvers' related
 * counts, the planner's relations and connections). `relation` is the relation `name` of
 * `table`; `node` is an alias of the rows it reaches, joined to link rows under `link()` (asked
 * only when needed) when the relation goes through a link table (`through`), or, with
 * `viaLink`, when the relation reaches link rows whose relation `viaLink.node` reaches the
 * listed row (a link list). A row belongs to the parent whose `parentColumns` equal its
 * `parentKeys`. Throws for a relation the relations config does not have.
 */
export function relationRows(
  table: TableKey,
  name: string,
  node: PgTable,
  link: () => SQL,
  viaLink?: { readonly table: TableKey; readonly node: string },
): RelationRows {
  const relation = relationOf(table, name);
  const column = (row: SQL | PgTable, columnName: string) =>
    sql`${row}.${sql.identifier(columnName)}`;
  const parentColumns = relation.sourceColumns.map((c) => c.name);
  if (viaLink) {
    const toNode = relationOf(viaLink.table, viaLink.node);
    const l = link();
    const on = toNode.targetColumns.map(
      (c, i) => sql`${column(node, c.name)} = ${column(l, toNode.sourceColumns[i]?.name ?? '')}`,
    );
    return {
      from: sql`${tableOf(viaLink.table)} ${l} join ${tableOf(toNode.targetTableName as TableKey)} ${node} on ${sql.join(on, sql` and `)}`,
      parentKeys: relation.targetColumns.map((c) => column(l, c.name)),
      parentColumns,
      link: l,
    };
  }
  const target = tableOf(relation.targetTableName as TableKey);
  if (relation.throughTable) {
    const l = link();
    const toTarget = throughColumns(relation, 'target');
    const on = relation.targetColumns.map(
      (c, i) => sql`${column(node, c.name)} = ${column(l, toTarget[i] ?? '')}`,
    );
    return {
      from: sql`${relation.throughTable} ${l} join ${target} ${node} on ${sql.join(on, sql` and `)}`,
      parentKeys: throughColumns(relation, 'source').map((name) => column(l, name)),
      parentColumns,
      link: l,
    };
  }
  return {
    from: sql`${target} ${node}`,
    parentKeys: relation.targetColumns.map((c) => column(node, c.name)),
    parentColumns,
  };
}

/** The SQL name of a column (TypeScript name) of a table. */
export function columnName(table: TableKey, column: string): string {
  const found = (tableOf(table) as unknown as Record<string, { name?: unknown }>)[column];
  if (typeof found?.name !== 'string') throw new Error(`no column ${table}.${column}`);
  return found.name;
}
