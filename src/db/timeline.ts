/**
 * The timeline's store side: decisions (at their announcement), real status transitions and
 * demand signals as one relation of events, ordered by `(at, rank, slug, id)`: the instant,
 * then decision (0) before status change (1) before signal (2), then slug, then update id.
 * One statement picks a page (a keyset over that order across a UNION ALL); the rows of the
 * page are then loaded per type by whoever renders them.
 */
import { type SQL, sql } from 'drizzle-orm';
import { type Database, queryRows } from './client.js';
import type { CursorScheme, CursorValues } from './cursors.js';

/** A `TimelineFilter` value. */
export interface TimelineFilterValue {
  chip?: string | null;
  company?: string | null;
  jurisdiction?: readonly string[] | null;
  from?: string | null;
  to?: string | null;
}

/**
 * The timeline's cursors: the event's instant, rank, slug and update id. Cursors of the
 * format before cursors named their list (`Timeline:[...]`) were only ever issued here, so
 * they are still accepted.
 */
export const TIMELINE_CURSOR: CursorScheme = {
  list: 'Query.timeline',
  shape: ['instant', 'rank', 'text', 'id'],
  legacyPrefix: 'Timeline:',
};

/** One event of a page: its kind, the row id in its table, and its position (cursor values). */
export interface TimelineRow {
  kind: 'decision' | 'update' | 'signal';
  rowId: number;
  position: CursorValues;
}

/**
 * A page of the timeline, pushed down into each kind of event: the keyset (`after`, `before`:
 * cursor values, or placeholders for them), the direction rows are read in, and how many.
 */
export interface TimelinePageSql {
  direction: 'asc' | 'desc';
  limit: unknown;
  after?: readonly unknown[] | undefined;
  before?: readonly unknown[] | undefined;
}

/** A timeline position `(at, rank, slug, id)` from cursor values (or placeholders for them). */
export const timelineKey = (values: readonly unknown[]) =>
  sql`(${values[0]}::timestamptz, ${values[1]}::int, ${values[2]}::text collate "C", ${values[3]}::bigint)`;

/** The keyset condition of a page on the position `position`. */
function keysetOn(position: SQL, page: Pick<TimelinePageSql, 'after' | 'before'>): SQL {
  const conditions: SQL[] = [];
  if (page.after) conditions.push(sql`${position} > ${timelineKey(page.after)}`);
  if (page.before) conditions.push(sql`${position} < ${timelineKey(page.before)}`);
  return conditions.length ? sql.join(conditions, sql` and `) : sql`true`;
}

/**
 * The events matching `filter` as one relation `(kind, row_id, at, rank, slug, id)`.
 * `param` turns a filter value into what goes into the SQL (the value, or a placeholder).
 * With `page`, each kind contributes only the rows of that page it could hold (its keyset, in
 * its order, at most `limit`), read in order from its index: a page reads in proportion to its
 * size, not to the whole timeline; the caller still orders and cuts the merged rows.
 */
export function timelineEventsSql(
  filter: TimelineFilterValue | null | undefined,
  param: (name: keyof TimelineFilterValue, value: unknown) => unknown = (_name, value) =>
    sql.param(value),
  page?: TimelinePageSql,
): SQL {
  const chip = filter?.chip != null ? param('chip', filter.chip) : undefined;
  const company = filter?.company != null ? param('company', filter.company) : undefined;
  const jurisdiction = filter?.jurisdiction?.length
    ? param('jurisdiction', [...filter.jurisdiction])
    : undefined;
  const from = filter?.from ? param('from', filter.from) : undefined;
  const to = filter?.to ? param('to', filter.to) : undefined;
  const decisionNamesChip = (alias: string) =>
    chip !== undefined
      ? sql`exists (select 1 from policy_decision_chips x join chips c on c.id = x.chip_id
          where x.decision_id = ${sql.raw(alias)}.id and c.slug = ${chip}::text)`
      : sql`true`;
  const decisionNamesCompany = (alias: string) =>
    company !== undefined
      ? sql`exists (select 1 from policy_decision_companies x join companies c on c.id = x.company_id
          where x.decision_id = ${sql.raw(alias)}.id and c.slug = ${company}::text)`
      : sql`true`;
  const inJurisdiction = (alias: string) =>
    jurisdiction !== undefined
      ? sql`${sql.raw(alias)}.jurisdiction = any(${jurisdiction}::bpchar[])`
      : sql`true`;
  // Event instants are compared as timestamptz; a date D stands for D at 00:00Z.
  const within = (at: SQL) =>
    sql`${from !== undefined ? sql`${at} >= (${from}::date)::timestamp at time zone 'UTC'` : sql`true`}
      and ${to !== undefined ? sql`${at} < ((${to}::date + 1)::timestamp at time zone 'UTC')` : sql`true`}`;
  const decisionAt = sql`(d.announced_on::timestamp at time zone 'UTC')`;
  const signalAt = sql`(s.observed_on::timestamp at time zone 'UTC')`;
  // Within one kind, `rank` is fixed and `at` follows its date column, so each kind's share of
  // a page is read in the order of its own index (decisions and signals by date and slug,
  // updates by instant and id).
  const paged = (position: SQL, order: SQL[]) => {
    if (!page) return { where: sql`true`, tail: sql`` };
    const direction = sql.raw(page.direction);
    return {
      where: keysetOn(position, page),
      tail: sql` order by ${sql.join(
        order.map((column) => sql`${column} ${direction}`),
        sql`, `,
      )} limit ${page.limit}`,
    };
  };
  const decision = paged(sql`(${decisionAt}, 0, d.slug, 0::bigint)`, [
    sql`d.announced_on`,
    sql`d.slug`,
  ]);
  const update = paged(sql`(u.occurred_at, 1, ''::text collate "C", u.id)`, [
    sql`u.occurred_at`,
    sql`u.id`,
  ]);
  const signal = paged(sql`(${signalAt}, 2, s.slug, 0::bigint)`, [sql`s.observed_on`, sql`s.slug`]);
  return sql`
    (select 'decision' as kind, d.id as row_id, ${decisionAt} as at, 0 as rank, d.slug as slug, 0::bigint as id
      from policy_decisions d
     where ${decisionNamesChip('d')} and ${decisionNamesCompany('d')} and ${inJurisdiction('d')}
       and ${within(decisionAt)} and ${decision.where}${decision.tail})
    union all
    (select 'update', u.id, u.occurred_at, 1, ''::text collate "C", u.id
      from policy_decision_updates u
      join policy_decisions d on d.id = u.decision_id
     where u.from_status is not null
       and ${decisionNamesChip('d')} and ${decisionNamesCompany('d')} and ${inJurisdiction('d')}
       and ${within(sql`u.occurred_at`)} and ${update.where}${update.tail})
    union all
    (select 'signal', s.id, ${signalAt}, 2, s.slug, 0::bigint
      from demand_signals s
     where ${chip !== undefined ? sql`s.chip_id = (select c.id from chips c where c.slug = ${chip}::text)` : sql`true`}
       and ${
         company !== undefined
           ? sql`exists (select 1 from demand_signal_companies x join companies c on c.id = x.company_id
               where x.signal_id = s.id and c.slug = ${company}::text)`
           : sql`true`
       }
       and ${within(signalAt)} and ${signal.where}${signal.tail})`;
}

/** The instant of an event as the cursor carries it (microseconds, UTC). */
export const TIMELINE_AT = (at: SQL) =>
  sql`to_char(${at} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * One page of events (with one look-ahead row): oldest first, or newest first when paging
 * backwards (the caller restores the order).
 */
export async function loadTimelineRows(
  db: Database,
  filter: TimelineFilterValue | null | undefined,
  page: { size: number; backward: boolean; after?: CursorValues; before?: CursorValues },
): Promise<TimelineRow[]> {
  const read = page.backward ? 'desc' : 'asc';
  const direction = sql.raw(read);
  const limit = page.size + 1;
  const rows = await queryRows<{
    kind: TimelineRow['kind'];
    row_id: number | string;
    at: string;
    rank: number;
    slug: string;
    id: number | string;
  }>(
    db,
    sql`select e.kind, e.row_id, ${TIMELINE_AT(sql`e.at`)} as at, e.rank, e.slug, e.id
          from (${timelineEventsSql(filter, undefined, { direction: read, limit, after: page.after, before: page.before })}) e
         order by e.at ${direction}, e.rank ${direction}, e.slug ${direction}, e.id ${direction}
         limit ${limit}`,
  );
  return rows.map((row) => ({
    kind: row.kind,
    rowId: Number(row.row_id),
    position: [row.at, Number(row.rank), row.slug, Number(row.id)],
  }));
}

/** Number of events matching `filter`. */
export async function countTimeline(
  db: Database,
  filter: TimelineFilterValue | null | undefined,
): Promise<number> {
  const [row] = await queryRows<{ count: number }>(
    db,
    sql`select count(*)::int as count from (${timelineEventsSql(filter)}) e`,
  );
  return Number(row?.count ?? 0);
}
