/**
 * The SQL of the planned reads with rules of their own (see `plan-sql.ts` for the statement
 * and its conventions): a chip's export status (`src/db/export-status.ts`) and a timeline page
 * (`src/db/timeline.ts`). As there, the planner allocates the aliases (`exportStatusAliases`,
 * `timelineAliases`, then one alias per row it builds), builds each row over its alias, and
 * hands the finished rows in.
 */
import { type Placeholder, type SQL, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { decidingDecisionSql } from './export-status.js';
import { EXPORT_STATUS_SLOTS, PAGE_SLOTS, TIMELINE_ITEM_SLOTS } from './plan-layout.js';
import {
  type AliasedRow,
  ident,
  layoutArray,
  type StatementBuilder,
  sqlColumnOf,
} from './plan-sql.js';
import { type TableKey, tableOf } from './tables.js';
import { TIMELINE_AT, type TimelineFilterValue, timelineEventsSql } from './timeline.js';

/** The JSON of the row of `table` whose id is `id` (or null): `found.row` over `found.alias`. */
function rowByIdJson(table: TableKey, found: AliasedRow, id: SQL): SQL {
  const t = found.alias;
  return sql`(select ${found.row} from ${tableOf(table)} ${t} where ${sqlColumnOf(t, 'id')} = ${id})`;
}

/**
 * The rows an export status can hold and the table of each, in the order the planner builds
 * them (after `exportStatusAliases`), so a statement's aliases number the same every time.
 */
export const EXPORT_STATUS_TABLES = {
  chip: 'chips',
  exportDecision: 'policyDecisions',
  importDecision: 'policyDecisions',
} as const satisfies Record<string, TableKey>;

/** The aliases of an export status's two sides (`exportStatusAliases`). */
export interface ExportStatusAliases {
  readonly exportSide: SQL;
  readonly importSide: SQL;
}

/** Allocates the aliases of an export status's sides, before its rows are built. */
export function exportStatusAliases<Bind>(b: StatementBuilder<Bind>): ExportStatusAliases {
  return { exportSide: ident(b.name('x')), importSide: ident(b.name('m')) };
}

/**
 * The export status of the chip `chip` (an alias) as JSON laid out by `EXPORT_STATUS_SLOTS`
 * (each side's effect and deciding decision, and the chip). `rows` holds the rows asked for,
 * each built over an alias of its `EXPORT_STATUS_TABLES` table; a decision not asked for (or
 * none in force) and a chip not asked for are null.
 */
export function exportStatusJson(
  chip: PgTable,
  values: { from: Placeholder; to: Placeholder; asOf: Placeholder },
  sides: ExportStatusAliases,
  rows: Partial<Record<keyof typeof EXPORT_STATUS_TABLES, AliasedRow>>,
): SQL {
  const { exportSide, importSide } = sides;
  const chipId = sqlColumnOf(chip, 'id');
  const side = (jurisdiction: Placeholder) =>
    decidingDecisionSql({ chip: chipId, jurisdiction, destination: values.to, asOf: values.asOf });
  const rowOf = (part: keyof typeof EXPORT_STATUS_TABLES, id: SQL) => {
    const found = rows[part];
    return found ? rowByIdJson(EXPORT_STATUS_TABLES[part], found, id) : sql`null`;
  };
  const status = layoutArray(EXPORT_STATUS_SLOTS, {
    exportEffect: sql`${exportSide}.effect`,
    exportDecision: rowOf('exportDecision', sql`${exportSide}.decision_id`),
    importEffect: sql`${importSide}.effect`,
    importDecision: rowOf('importDecision', sql`${importSide}.decision_id`),
    chip: rowOf('chip', chipId),
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

/** The aliases of a timeline page's events (`timelineAliases`). */
export interface TimelineAliases {
  /** The page's events. */
  readonly events: SQL;
  /** The merged events the page is cut from. */
  readonly merged: SQL;
}

/** Allocates the aliases of a timeline page, before each kind's row is built. */
export function timelineAliases<Bind>(b: StatementBuilder<Bind>): TimelineAliases {
  return { events: ident(b.name('e')), merged: ident(b.name('e')) };
}

/**
 * The JSON of a timeline page, laid out by `PAGE_SLOTS`, each item by `TIMELINE_ITEM_SLOTS`,
 * oldest first (at most `limit`, the look-ahead row included). `params` holds the placeholder
 * of each filter field set in `filter`; `rows` each kind's row (over an alias of its
 * `TIMELINE_TABLES` table); a kind not in `rows` gets null.
 */
export function timelineJson<Bind>(
  b: StatementBuilder<Bind>,
  filter: TimelineFilterValue | null | undefined,
  params: Partial<Record<keyof TimelineFilterValue, Placeholder>>,
  page: {
    backward: boolean;
    limit: Placeholder;
    after?: readonly Placeholder[];
    before?: readonly Placeholder[];
  },
  withTotal: boolean,
  aliases: TimelineAliases,
  rows: Partial<Record<keyof typeof TIMELINE_TABLES, AliasedRow>>,
): SQL {
  const direction = page.backward ? 'desc' : 'asc';
  const param = (name: keyof TimelineFilterValue) => {
    const placeholder = params[name];
    if (!placeholder) throw new Error(`timeline filter ${name}: no placeholder`);
    return placeholder;
  };
  const events = (paged?: boolean) =>
    sql`(${timelineEventsSql(
      filter,
      param,
      paged ? { direction, limit: page.limit, after: page.after, before: page.before } : undefined,
    )})`;
  const { events: e, merged: inner } = aliases;
  const read = sql.raw(direction);
  const kindRow = Object.entries(TIMELINE_TABLES).map(([kind, table]) => {
    const found = rows[kind as keyof typeof TIMELINE_TABLES];
    if (!found) return sql`when ${sql.raw(`'${kind}'`)} then null`;
    return sql`when ${sql.raw(`'${kind}'`)} then ${rowByIdJson(table, found, sql`${e}.row_id`)}`;
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
