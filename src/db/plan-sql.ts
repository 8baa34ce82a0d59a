/**
 * The SQL of planned reads (see `src/plan/`). A planned root field is one statement whose
 * single column `r` is JSON built from positional arrays (`json_build_array`): one array per
 * row, holding the values the selection needs in an order the planner fixed, with nested
 * relations and connections as nested arrays. PostgreSQL builds no object keys and Node does
 * no per-field work beyond shaping the arrays into the response.
 *
 * Values are placeholders, bound per request (`StatementBuilder.param`), so a statement's text
 * is fixed per plan and PostgreSQL prepares it once per connection.
 */
import { type Column, Placeholder, type SQL, sql } from 'drizzle-orm';
import { alias, PgDialect, type PgTable } from 'drizzle-orm/pg-core';
import { decidingDecisionSql } from './export-status.js';
import { type AnyFilter, filterWhere } from './filter-kit.js';
import { keysetWhere, type ListDeclaration, type ListOrder } from './lists.js';
import { EXPORT_STATUS_SLOTS, PAGE_SLOTS, TIMELINE_ITEM_SLOTS } from './plan-layout.js';
import {
  columnName,
  type RelationRows,
  relationOf,
  relationRows,
  type TableKey,
  tableOf,
} from './tables.js';
import { TIMELINE_AT, type TimelineFilterValue, timelineEventsSql } from './timeline.js';

const dialect = new PgDialect();

/** A quoted SQL identifier (an alias name) as SQL. */
const ident = (name: string): SQL => sql`${sql.identifier(name)}`;

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
function layoutArray<Layout extends Record<string, number>>(
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

/**
 * The JSON of a drizzle relation of the row `parent` (of `table`): the related row's array or
 * null (one), or an array of them in `order` (many; `first`: only the first, or null). `row`
 * builds the related row's array over its alias.
 */
export function relationJson<Bind>(
  b: StatementBuilder<Bind>,
  table: TableKey,
  parent: PgTable,
  name: string,
  options: { order?: readonly RelationOrderColumn[]; first?: boolean; latest?: number },
  row: (child: PgTable) => SQL,
): SQL {
  const relation = relationOf(table, name);
  const child = b.alias(relation.targetTableName as TableKey);
  const { from, link, ...keys } = relationRows(table, name, child, () => ident(b.name('l')));
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
    return sql`(select ${row(child)} from ${from} where ${where})`;
  }
  if (options.first) {
    return sql`(select ${row(child)} from ${from} where ${where}${ordered} limit 1)`;
  }
  if (options.latest !== undefined && orderBy.length > 0) {
    // The last `latest` rows: read backwards with a limit, numbered, aggregated forwards.
    const backwards = (options.order ?? []).map(
      (order, i) =>
        sql`${orderBy[i]?.column} ${sql.raw(order.direction === 'asc' ? 'desc' : 'asc')}`,
    );
    const reversed = sql.join(backwards, sql`, `);
    const rows = ident(b.name('r'));
    return sql`(select coalesce(json_agg(${rows}.j order by ${rows}.n desc), '[]'::json) from (select ${row(child)} as j, row_number() over (order by ${reversed}) as n from ${from} where ${where} order by ${reversed} limit ${sql.raw(String(Math.trunc(options.latest)))}) ${rows})`;
  }
  return sql`(select coalesce(json_agg(${row(child)}${ordered}), '[]'::json) from ${from} where ${where})`;
}

/** The SQL name of a column (TypeScript name) of a relation's link table. */
function throughColumnName(table: unknown, column: string): string {
  const found = (table as Record<string, Column | undefined> | undefined)?.[column];
  if (!found) throw new Error(`no link column ${column}`);
  return found.name;
}

/** A column of an alias by its SQL name. */
function sqlColumnOf(row: PgTable, name: string): SQL {
  use(row, name);
  return sql`${row}.${sql.identifier(name)}`;
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
  /** The filter's SQL over the node alias (placeholders inside), if any. */
  readonly filter?: (node: PgTable) => SQL | undefined;
}

/**
 * The JSON of a connection, laid out by `PAGE_SLOTS` (items, totalCount), each item `[...orderValues, ...row]` in the
 * list's order (at most `limit` of them, the look-ahead row included); the ordering values
 * only `withCursors`, `totalCount` null unless `withTotal`. `parent` is the parent row for a related list. `row` builds the item's
 * values over the page's row alias (`node`) and, for a link list, `edge(column)` reads the
 * link row's columns.
 */
export function connectionJson<Bind>(
  b: StatementBuilder<Bind>,
  list: ListDeclaration,
  parent: PgTable | undefined,
  page: PagePlan,
  options: { withTotal: boolean; withCursors: boolean },
  row: (node: PgTable, edge: (column: string) => SQL) => SQL[],
): SQL {
  const node = b.alias(list.node);
  const nodeName = sql`${node}`;
  const innerNode = b.alias(list.node);
  const linkName = ident(b.name('l'));
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
    page.filter?.(innerNode),
    keysetWhere(page.order, readKeys, page.after, page.before),
  ].filter((condition): condition is SQL => condition !== undefined);
  const edgeColumns = new Map<string, SQL>();
  const edge = (column: string) => {
    if (!list.link) throw new Error(`${list.name} has no edge columns`);
    const name = `e$${column}`;
    if (!edgeColumns.has(name)) {
      edgeColumns.set(
        name,
        sql`${linkName}.${sql.identifier(columnName(list.link.table, column))} as ${sql.identifier(name)}`,
      );
    }
    return sql`${nodeName}.${sql.identifier(name)}`;
  };
  const itemSlots = [...(options.withCursors ? keyColumns(node) : []), ...row(node, edge)];
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
  selected.push(...edgeColumns.values());
  const items = sql`(select coalesce(json_agg(${jsonArray(itemSlots)} order by ${aggregateOrder}), '[]'::json)
    from (select ${sql.join(selected, sql`, `)}
            from ${source.from}
           where ${conditions.length ? sql.join(conditions, sql` and `) : sql`true`}
           order by ${ordered(readKeys, readAscending)}
           limit ${page.limit}) ${nodeName})`;
  let total = sql`null`;
  if (options.withTotal) {
    const countNode = b.alias(list.node);
    const countLink = ident(b.name('l'));
    const counted = rowsOf(list, countNode, countLink, parent);
    const countConditions = [counted.where, page.filter?.(countNode)].filter(
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

/** The filter of a list as SQL over `node`, with each value bound by `param`. */
export function listFilterSql(
  filter: AnyFilter,
  node: PgTable,
  value: Record<string, unknown> | null | undefined,
  param: (field: string) => Placeholder,
): SQL | undefined {
  return filterWhere(filter, node, value, (field) => param(field));
}

/** The row of `table` whose `column` equals `value`, as JSON (or null). */
export function lookupJson<Bind>(
  b: StatementBuilder<Bind>,
  table: TableKey,
  column: string,
  value: Placeholder,
  row: (t: PgTable) => SQL,
): SQL {
  const t = b.alias(table);
  return sql`(select ${row(t)} from ${tableOf(table)} ${t} where ${columnJson(t, column)} = ${value})`;
}

/**
 * Whether `table` has an `id` column (its rows can be loaded again by id: `lookupManyJson`);
 * link tables, keyed by the pair they link, have none.
 */
export function hasIdColumn(table: TableKey): boolean {
  return Boolean((tableOf(table) as unknown as Record<string, Column | undefined>).id);
}

/** The rows of `table` whose `column` is any of `values`, as JSON `[[key, row], ...]`. */
export function lookupManyJson<Bind>(
  b: StatementBuilder<Bind>,
  table: TableKey,
  column: string,
  values: Placeholder,
  row: (t: PgTable) => SQL,
): SQL {
  const t = b.alias(table);
  const key = columnJson(t, column);
  const type = column === 'id' ? sql.raw('bigint') : sql.raw('text');
  return sql`(select coalesce(json_agg(json_build_array(${key}, ${row(t)})), '[]'::json) from ${tableOf(table)} ${t} where ${key} = any(${values}::${type}[]))`;
}

/**
 * The export status of the chip `chip` (an alias) as JSON laid out by `EXPORT_STATUS_SLOTS`
 * (each side's effect and deciding decision, and the chip): each decision built by its row builder over its alias
 * (null when not asked for or none is in force), and the chip again when asked for.
 */
export function exportStatusJson<Bind>(
  b: StatementBuilder<Bind>,
  chip: PgTable,
  values: { from: Placeholder; to: Placeholder; asOf: Placeholder },
  rows: {
    exportDecision?: (t: PgTable) => SQL;
    importDecision?: (t: PgTable) => SQL;
    chip?: (t: PgTable) => SQL;
  },
): SQL {
  const exportSide = ident(b.name('x'));
  const importSide = ident(b.name('m'));
  const chipId = sqlColumnOf(chip, 'id');
  const side = (jurisdiction: Placeholder) =>
    decidingDecisionSql({ chip: chipId, jurisdiction, destination: values.to, asOf: values.asOf });
  const decisionOf = (sideName: SQL, build?: (t: PgTable) => SQL) => {
    if (!build) return sql`null`;
    const t = b.alias('policyDecisions');
    return sql`(select ${build(t)} from ${tableOf('policyDecisions')} ${t} where ${sqlColumnOf(t, 'id')} = ${sideName}.decision_id)`;
  };
  let chipRow = sql`null`;
  if (rows.chip) {
    const t = b.alias('chips');
    chipRow = sql`(select ${rows.chip(t)} from ${tableOf('chips')} ${t} where ${sqlColumnOf(t, 'id')} = ${chipId})`;
  }
  const status = layoutArray(EXPORT_STATUS_SLOTS, {
    exportEffect: sql`${exportSide}.effect`,
    exportDecision: decisionOf(exportSide, rows.exportDecision),
    importEffect: sql`${importSide}.effect`,
    importDecision: decisionOf(importSide, rows.importDecision),
    chip: chipRow,
  });
  return sql`(select ${status}
    from (select 1) one
    left join lateral (${side(values.from)}) ${exportSide} on true
    left join lateral (${side(values.to)}) ${importSide} on true)`;
}

/** The kinds of timeline events and the table each one's row lives in. */
export const TIMELINE_TABLES = {
  decision: 'policyDecisions',
  update: 'policyDecisionUpdates',
  signal: 'demandSignals',
} as const satisfies Record<string, TableKey>;

/**
 * The JSON of a timeline page, laid out by `PAGE_SLOTS`, each item by `TIMELINE_ITEM_SLOTS`,
 * oldest first (at most `limit`, the look-ahead row included). `rows` builds each
 * kind's row over its alias; a kind not asked for gets null.
 */
export function timelineJson<Bind>(
  b: StatementBuilder<Bind>,
  filter: TimelineFilterValue | null | undefined,
  param: (name: keyof TimelineFilterValue) => Placeholder,
  page: {
    backward: boolean;
    limit: Placeholder;
    after?: readonly Placeholder[];
    before?: readonly Placeholder[];
  },
  withTotal: boolean,
  rows: Partial<Record<keyof typeof TIMELINE_TABLES, (t: PgTable) => SQL>>,
): SQL {
  const direction = page.backward ? 'desc' : 'asc';
  const events = (paged?: boolean) =>
    sql`(${timelineEventsSql(
      filter,
      (field) => param(field),
      paged ? { direction, limit: page.limit, after: page.after, before: page.before } : undefined,
    )})`;
  const e = ident(b.name('e'));
  const inner = ident(b.name('e'));
  const read = sql.raw(direction);
  const kindRow = Object.entries(TIMELINE_TABLES).map(([kind, table]) => {
    const build = rows[kind as keyof typeof TIMELINE_TABLES];
    if (!build) return sql`when ${sql.raw(`'${kind}'`)} then null`;
    const t = b.alias(table);
    return sql`when ${sql.raw(`'${kind}'`)} then (select ${build(t)} from ${tableOf(table)} ${t} where ${sqlColumnOf(t, 'id')} = ${e}.row_id)`;
  });
  // Each kind applies the keyset and the limit itself (see `timelineEventsSql`).
  const paged = sql`(select ${inner}.* from ${events(true)} ${inner}
      order by ${inner}.at ${read}, ${inner}.rank ${read}, ${inner}.slug ${read}, ${inner}.id ${read}
      limit ${page.limit}) ${e}`;
  const item = layoutArray(TIMELINE_ITEM_SLOTS, {
    at: TIMELINE_AT(sql`${e}.at`),
    rank: sql`${e}.rank`,
    slug: sql`${e}.slug`,
    id: sql`${e}.id`,
    kind: sql`${e}.kind`,
    row: sql`case ${e}.kind ${sql.join(kindRow, sql` `)} end`,
  });
  const list = sql`(select coalesce(json_agg(${item}
      order by ${e}.at, ${e}.rank, ${e}.slug, ${e}.id), '[]'::json) from ${paged})`;
  const total = withTotal
    ? sql`(select count(*)::int from ${events()} ${sql.identifier(b.name('c'))})`
    : sql`null`;
  return layoutArray(PAGE_SLOTS, { items: list, total });
}
