/**
 * The SQL of planned reads (see `src/plan/`). A planned root field is one statement whose
 * single column `r` is JSON built from positional arrays (`json_build_array`): one array per
 * row, holding the values the selection needs in an order the planner fixed, with nested
 * relations and connections as nested arrays. PostgreSQL builds no object keys and Node does
 * no per-field work beyond shaping the arrays into the response.
 *
 * Values are placeholders, bound per request (`StatementBuilder.param`), so a statement's text
 * is fixed per plan and PostgreSQL prepares it once per connection.
 *
 * The planner depends on this module, never the reverse: for each construct it allocates the
 * aliases here (`relationAliases`, `connectionAliases`, an alias of a looked-up table), builds
 * its row SQL over them, and hands the finished SQL (rows, placeholders) to the construct's
 * JSON function. Nothing here takes a function from the planner but the per-request value
 * getters of placeholders. Export status and timeline pages: `plan-sql-special.ts`.
 */
import { type Column, Placeholder, type SQL, sql } from 'drizzle-orm';
import { alias, PgDialect, type PgTable } from 'drizzle-orm/pg-core';
import { type AnyFilter, filterWhere } from './filter-kit.js';
import { keysetWhere, type ListDeclaration, type ListOrder } from './lists.js';
import { PAGE_SLOTS } from './plan-layout.js';
import {
  columnName,
  type RelationRows,
  relationOf,
  relationRows,
  type TableKey,
  tableOf,
} from './tables.js';

const dialect = new PgDialect();

/** A quoted SQL identifier (an alias name) as SQL. */
export const ident = (name: string): SQL => sql`${sql.identifier(name)}`;

/** Reads a bound value from the request being served. */
export type Getter<Bind> = (bind: Bind) => unknown;

/** A compiled statement: its text and how to bind each `$n` from a request. */
export interface CompiledStatement<Bind> {
  readonly text: string;
  readonly params: readonly Getter<Bind>[];
}

/** Builds one statement: fresh table aliases and placeholders with their getters. */
export class StatementBuilder<Bind> {
  #aliases = 0;
  readonly #getters = new Map<string, Getter<Bind>>();

  /** A fresh alias of a table (`t<n>`), whose columns render qualified by it. */
  alias(table: TableKey): PgTable {
    this.#aliases += 1;
    return alias(tableOf(table), `t${this.#aliases}`) as unknown as PgTable;
  }

  /** A fresh alias name for a subquery. */
  name(prefix: string): string {
    this.#aliases += 1;
    return `${prefix}${this.#aliases}`;
  }

  /** A placeholder bound per request by `getter`. */
  param(getter: Getter<Bind>): Placeholder {
    const name = `p${this.#getters.size + 1}`;
    this.#getters.set(name, getter);
    return sql.placeholder(name);
  }

  /** `select <json> as r`, compiled once. */
  compile(json: SQL): CompiledStatement<Bind> {
    const query = dialect.sqlToQuery(sql`select ${json} as r`);
    const params = query.params.map((param): Getter<Bind> => {
      if (param instanceof Placeholder) {
        const getter = this.#getters.get(param.name);
        if (!getter) throw new Error(`no getter for placeholder ${param.name}`);
        return getter;
      }
      return () => param;
    });
    return { text: query.sql, params };
  }
}

/**
 * The columns (SQL names) a statement reads from each alias, so that a page's subquery
 * selects only those: sorting wide rows (a signal's summary, notes, ...) to keep ten of them
 * costs PostgreSQL more than building the JSON.
 */
const usedColumns = new WeakMap<PgTable, Set<string>>();

function use(row: PgTable, name: string) {
  let used = usedColumns.get(row);
  if (!used) {
    used = new Set();
    usedColumns.set(row, used);
  }
  used.add(name);
}

/** The column of a row alias as it goes into JSON (exact decimals as text). */
export function columnJson(row: PgTable, column: string): SQL {
  const value = (row as unknown as Record<string, Column | undefined>)[column];
  if (!value) throw new Error(`no column ${column}`);
  use(row, value.name);
  return value.getSQLType().startsWith('numeric') ? sql`${value}::text` : sql`${value}`;
}

/** A JSON array of `values`, each at the index `layout` gives its name. */
export function layoutArray<Layout extends Record<string, number>>(
  layout: Layout,
  values: { readonly [Name in keyof Layout]: SQL },
): SQL {
  const slots: SQL[] = [];
  for (const [name, index] of Object.entries(layout)) slots[index] = values[name] as SQL;
  return jsonArray(slots);
}

/** A row as a positional JSON array of its slots. */
export function jsonArray(slots: readonly SQL[]): SQL {
  return sql`json_build_array(${sql.join([...slots], sql`, `)})`;
}

/** A relation's ordering column: of the related row, or of the link row it is reached by. */
export interface RelationOrderColumn {
  readonly column: string;
  readonly direction: 'asc' | 'desc';
  readonly of?: 'link';
}

/** How a relation's rows are read: in `order`; `first`: only the first; `latest`: the last n. */
export interface RelationOptions {
  readonly order?: readonly RelationOrderColumn[];
  readonly first?: boolean;
  readonly latest?: number;
}

/** The aliases a relation's JSON reads through (`relationAliases`). */
export interface RelationAliases {
  /** The related row; the planner builds the row's array over it. */
  readonly child: PgTable;
  /** The link rows' alias, when the relation goes through a link table. */
  readonly link: SQL | undefined;
  /** The numbered rows' alias of a `latest` read (a many relation, ordered, not `first`). */
  readonly latest: SQL | undefined;
}

/**
 * Allocates the aliases of the relation `name` of `table` read with `options`, before the
 * planner builds the related row over `child` (so the row's own aliases number after them).
 * Throws for a relation the relations config does not have.
 */
export function relationAliases<Bind>(
  b: StatementBuilder<Bind>,
  table: TableKey,
  name: string,
  options: RelationOptions,
): RelationAliases {
  const relation = relationOf(table, name);
  const child = b.alias(relation.targetTableName as TableKey);
  const link = relation.throughTable ? ident(b.name('l')) : undefined;
  const latest =
    relation.relationType !== 'one' &&
    !options.first &&
    options.latest !== undefined &&
    (options.order ?? []).length > 0
      ? ident(b.name('r'))
      : undefined;
  return { child, link, latest };
}

/**
 * The JSON of a drizzle relation of the row `parent` (of `table`): the related row's array or
 * null (one), or an array of them in `options.order` (many; `first`: only the first, or null;
 * `latest`: the last n, in order). `aliases` come from `relationAliases` with the same
 * `table`, `name` and `options`; `row` is the related row's array, built over `aliases.child`.
 */
export function relationJson(
  table: TableKey,
  parent: PgTable,
  name: string,
  options: RelationOptions,
  aliases: RelationAliases,
  row: SQL,
): SQL {
  const relation = relationOf(table, name);
  const { child } = aliases;
  const { from, link, ...keys } = relationRows(table, name, child, () => {
    if (!aliases.link) throw new Error(`${table}.${name}: no link alias`);
    return aliases.link;
  });
  const where = parentMatch(keys, parent);
  const orderBy = (options.order ?? []).map((order) => {
    const column =
      order.of === 'link' && link
        ? sql`${link}.${sql.identifier(throughColumnName(relation.throughTable, order.column))}`
        : columnJson(child, order.column);
    return { column, sql: sql`${column} ${sql.raw(order.direction)}` };
  });
  const ordered = orderBy.length
    ? sql` order by ${sql.join(
        orderBy.map((order) => order.sql),
        sql`, `,
      )}`
    : sql``;
  if (relation.relationType === 'one') {
    return sql`(select ${row} from ${from} where ${where})`;
  }
  if (options.first) {
    return sql`(select ${row} from ${from} where ${where}${ordered} limit 1)`;
  }
  if (aliases.latest && options.latest !== undefined) {
    // The last `latest` rows: read backwards with a limit, numbered, aggregated forwards.
    const backwards = (options.order ?? []).map(
      (order, i) =>
        sql`${orderBy[i]?.column} ${sql.raw(order.direction === 'asc' ? 'desc' : 'asc')}`,
    );
    const reversed = sql.join(backwards, sql`, `);
    const rows = aliases.latest;
    return sql`(select coalesce(json_agg(${rows}.j order by ${rows}.n desc), '[]'::json) from (select ${row} as j, row_number() over (order by ${reversed}) as n from ${from} where ${where} order by ${reversed} limit ${sql.raw(String(Math.trunc(options.latest)))}) ${rows})`;
  }
  return sql`(select coalesce(json_agg(${row}${ordered}), '[]'::json) from ${from} where ${where})`;
}

/** The SQL name of a column (TypeScript name) of a relation's link table. */
function throughColumnName(table: unknown, column: string): string {
  const found = (table as Record<string, Column | undefined> | undefined)?.[column];
  if (!found) throw new Error(`no link column ${column}`);
  return found.name;
}

/** A column of an alias by its SQL name (recorded as used, see `columnJson`). */
export function sqlColumnOf(row: PgTable, name: string): SQL {
  use(row, name);
  return sql`${row}.${sql.identifier(name)}`;
}

/** A list's filter as a page applies it: the filter value and a placeholder per field set. */
export interface PageFilter {
  readonly filter: AnyFilter;
  /** The filter argument's value at plan time (which fields are active). */
  readonly value: Record<string, unknown>;
  /** Per field name: the placeholder its bound value goes into (see `FilterField.bind`). */
  readonly params: Readonly<Record<string, Placeholder>>;
}

/** How a page of a connection is bound: placeholders for its size and cursor values. */
export interface PagePlan {
  readonly order: ListOrder;
  /** Whether rows are read backwards (`last`), so the read order is the list's reversed. */
  readonly backward: boolean;
  /** `limit`: the page size plus one look-ahead row. */
  readonly limit: Placeholder;
  readonly after?: readonly Placeholder[];
  readonly before?: readonly Placeholder[];
  /** The list's filter, if one is given. */
  readonly filter?: PageFilter;
}

/** The aliases a connection's page reads through (`connectionAliases`). */
export interface ConnectionAliases {
  /** The page's row: the planner builds each item over it (and `edgeColumnJson`). */
  readonly node: PgTable;
  /** The rows the page subquery reads, ordered and cut. */
  readonly inner: PgTable;
  /** The link rows' alias (a related or link list). */
  readonly link: SQL;
  /** The item's leading ordering values (cursors asked for), else empty. */
  readonly cursorKeys: readonly SQL[];
}

/** The link columns each connection's page selects (`edgeColumnJson`), by select alias. */
const edgeColumns = new WeakMap<ConnectionAliases, Map<string, SQL>>();

/**
 * Allocates the aliases of a page of `list` in `order`, before the planner builds the item
 * over `node`. `withCursors`: each item leads with its ordering values (`cursorKeys`).
 */
export function connectionAliases<Bind>(
  b: StatementBuilder<Bind>,
  list: ListDeclaration,
  order: ListOrder,
  withCursors: boolean,
): ConnectionAliases {
  const node = b.alias(list.node);
  const inner = b.alias(list.node);
  const link = ident(b.name('l'));
  const cursorKeys = withCursors ? order.keys.map((key) => columnJson(node, key.column)) : [];
  const aliases = { node, inner, link, cursorKeys };
  edgeColumns.set(aliases, new Map());
  return aliases;
}

/**
 * The column `column` (TypeScript name) of a link list's link row as an item reads it: the
 * page subquery selects it too. Throws for a list without link rows.
 */
export function edgeColumnJson(
  list: ListDeclaration,
  connection: ConnectionAliases,
  column: string,
): SQL {
  if (!list.link) throw new Error(`${list.name} has no edge columns`);
  const name = `e$${column}`;
  const selected = edgeColumns.get(connection);
  if (!selected) throw new Error(`${list.name}: aliases not from connectionAliases`);
  if (!selected.has(name)) {
    selected.set(
      name,
      sql`${connection.link}.${sql.identifier(columnName(list.link.table, column))} as ${sql.identifier(name)}`,
    );
  }
  return sql`${connection.node}.${sql.identifier(name)}`;
}

/** The SQL of a page's filter over `t`, if any. */
function pageFilterSql(page: PagePlan, t: PgTable): SQL | undefined {
  const filter = page.filter;
  if (!filter) return undefined;
  return filterWhere(filter.filter, t, filter.value, (field) => {
    const param = filter.params[field];
    if (!param) throw new Error(`${filter.filter.name}.${field}: no placeholder`);
    return param;
  });
}

/**
 * The JSON of a connection, laid out by `PAGE_SLOTS` (items, totalCount), each item
 * `[...cursorKeys, ...row]` in the list's order (at most `limit` of them, the look-ahead row
 * included); `totalCount` null unless `withTotal`. `parent` is the parent row for a related
 * list. `connection` comes from `connectionAliases` with the same list and order; `row` is the
 * item's values, built over `connection.node` before this call (the page subquery selects the
 * columns it read).
 */
export function connectionJson<Bind>(
  b: StatementBuilder<Bind>,
  list: ListDeclaration,
  parent: PgTable | undefined,
  page: PagePlan,
  connection: ConnectionAliases,
  withTotal: boolean,
  row: readonly SQL[],
): SQL {
  const { node, inner: innerNode, link: linkName } = connection;
  const nodeName = sql`${node}`;
  const source = rowsOf(list, innerNode, linkName, parent);
  const readAscending = (page.order.direction === 'asc') !== page.backward;
  const keyColumns = (t: PgTable) => page.order.keys.map((key) => columnJson(t, key.column));
  // Read the page in order from the link rows' copies of the ordering columns when they exist.
  const readKeys = list.linkKeys
    ? page.order.keys.map((key) => {
        const column = list.linkKeys?.[key.column];
        if (!column) throw new Error(`${list.name}: no link copy of ${key.column}`);
        return sql`${linkName}.${sql.identifier(linkColumnName(list, column))}`;
      })
    : keyColumns(innerNode);
  const conditions = [
    source.where,
    pageFilterSql(page, innerNode),
    keysetWhere(page.order, readKeys, page.after, page.before),
  ].filter((condition): condition is SQL => condition !== undefined);
  const itemSlots = [...connection.cursorKeys, ...row];
  const direction = (ascending: boolean) => sql.raw(ascending ? 'asc' : 'desc');
  const ordered = (columns: readonly SQL[], ascending: boolean) =>
    sql.join(
      columns.map((column) => sql`${column} ${direction(ascending)}`),
      sql`, `,
    );
  const aggregateOrder = ordered(keyColumns(node), page.order.direction === 'asc');
  const selected = [...(usedColumns.get(node) ?? [])].map(
    (name) => sql`${innerNode}.${sql.identifier(name)}`,
  );
  selected.push(...(edgeColumns.get(connection)?.values() ?? []));
  const items = sql`(select coalesce(json_agg(${jsonArray(itemSlots)} order by ${aggregateOrder}), '[]'::json)
    from (select ${sql.join(selected, sql`, `)}
            from ${source.from}
           where ${conditions.length ? sql.join(conditions, sql` and `) : sql`true`}
           order by ${ordered(readKeys, readAscending)}
           limit ${page.limit}) ${nodeName})`;
  let total = sql`null`;
  if (withTotal) {
    const countNode = b.alias(list.node);
    const countLink = ident(b.name('l'));
    const counted = rowsOf(list, countNode, countLink, parent);
    const countConditions = [counted.where, pageFilterSql(page, countNode)].filter(
      (condition): condition is SQL => condition !== undefined,
    );
    total = sql`(select count(*)::int from ${counted.from} where ${
      countConditions.length ? sql.join(countConditions, sql` and `) : sql`true`
    })`;
  }
  return layoutArray(PAGE_SLOTS, { items, total });
}

/** The SQL name of a column (TypeScript name) of the link rows a list goes through. */
function linkColumnName(list: ListDeclaration, column: string): string {
  if (list.link) return columnName(list.link.table, column);
  const relation = list.parent && relationOf(list.parent.table, list.parent.relation);
  return throughColumnName(relation?.throughTable, column);
}

/** The rows of a list under the alias `node` (and `link`): FROM clause and parent condition. */
function rowsOf(
  list: ListDeclaration,
  node: PgTable,
  link: SQL,
  parent: PgTable | undefined,
): { from: SQL; where?: SQL } {
  if (!list.parent || !parent) return { from: sql`${tableOf(list.node)} ${node}` };
  const { from, ...keys } = relationRows(
    list.parent.table,
    list.parent.relation,
    node,
    () => link,
    list.link,
  );
  return { from, where: parentMatch(keys, parent) };
}

/** The condition that rows (`relationRows`) belong to the parent row `parent` (an alias). */
function parentMatch(
  keys: Pick<RelationRows, 'parentKeys' | 'parentColumns'>,
  parent: PgTable,
): SQL {
  return sql.join(
    keys.parentKeys.map(
      (key, i) => sql`${key} = ${sqlColumnOf(parent, keys.parentColumns[i] ?? '')}`,
    ),
    sql` and `,
  );
}

/** A row the planner built (`row`, its JSON array) over `alias`, an alias of the row's table. */
export interface AliasedRow {
  readonly alias: PgTable;
  readonly row: SQL;
}

/**
 * The row of `table` whose `column` equals `value`, as JSON (or null): `row` built over `t`,
 * an alias of `table` (`StatementBuilder.alias`).
 */
export function lookupJson(
  table: TableKey,
  column: string,
  value: Placeholder,
  t: PgTable,
  row: SQL,
): SQL {
  return sql`(select ${row} from ${tableOf(table)} ${t} where ${columnJson(t, column)} = ${value})`;
}

/**
 * Whether `table` has an `id` column (its rows can be loaded again by id: `lookupManyJson`);
 * link tables, keyed by the pair they link, have none.
 */
export function hasIdColumn(table: TableKey): boolean {
  return Boolean((tableOf(table) as unknown as Record<string, Column | undefined>).id);
}

/**
 * The rows of `table` whose `column` is any of `values`, as JSON `[[key, row], ...]`: `row`
 * built over `t`, an alias of `table` (`StatementBuilder.alias`).
 */
export function lookupManyJson(
  table: TableKey,
  column: string,
  values: Placeholder,
  t: PgTable,
  row: SQL,
): SQL {
  const key = columnJson(t, column);
  const type = column === 'id' ? sql.raw('bigint') : sql.raw('text');
  return sql`(select coalesce(json_agg(json_build_array(${key}, ${row})), '[]'::json) from ${tableOf(table)} ${t} where ${key} = any(${values}::${type}[]))`;
}
