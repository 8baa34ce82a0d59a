/**
 * `timeline`: the story in order. Decisions (at their announcement), real status transitions
 * and demand signals, merged into one chronological Relay connection over the union
 * `TimelineEvent`. Source: the curated store.
 *
 * One SQL statement picks the page (a keyset over `(at, rank, slug, id)` across a UNION ALL);
 * the page's rows are then loaded with one query per type, so a page costs at most four
 * statements whatever its size.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { GraphQLResolveInfo } from 'graphql';
import { builder, type ConnectionArgs, connectionComplexity, pageSize } from '../builder.js';
import type { Context } from '../context.js';
import { queryRows } from '../db/client.js';
import { inList } from '../db/sql.js';
import { BadUserInputError } from '../errors.js';
import { DemandSignal } from './demand-signal.js';
import { loadPlannedRows, type NodeTypeName } from './node.js';
import { PolicyDecision, PolicyDecisionUpdate } from './policy-decision.js';

export const TimelineEvent = builder.unionType('TimelineEvent', {
  description:
    'One step of the story: a decision (at its announcement), a status change of a decision, ' +
    'or a demand signal.',
  types: [PolicyDecision, PolicyDecisionUpdate, DemandSignal],
});

export const TimelineFilter = builder.inputType('TimelineFilter', {
  description: 'Narrows the timeline. All given conditions must hold.',
  fields: (t) => ({
    chip: t.string({
      description:
        'Only the story of this chip (a slug): decisions naming it, their status changes, and signals about it.',
    }),
    company: t.string({
      description:
        'Only the story of this company (a slug): decisions naming it, their status changes, and signals naming it.',
    }),
    jurisdiction: t.field({
      type: ['CountryCode'],
      description:
        'Only decisions (and their status changes) of these governments. Demand signals have ' +
        'no jurisdiction and are kept.',
    }),
    from: t.field({ type: 'Date', description: 'Events on or after this date (UTC).' }),
    to: t.field({ type: 'Date', description: 'Events on or before this date (UTC).' }),
  }),
});

type TimelineFilterShape =
  | {
      chip?: string | null;
      company?: string | null;
      jurisdiction?: string[] | null;
      from?: string | null;
      to?: string | null;
    }
  | null
  | undefined;

/** Position of an event in the timeline; the cursor carries it. */
interface TimelineKey {
  at: string;
  rank: number;
  slug: string;
  id: number;
}

interface TimelineRow {
  kind: 'decision' | 'update' | 'signal';
  row_id: number;
  at: string;
  rank: number;
  slug: string;
  id: string | number;
}

const CURSOR_PREFIX = 'Timeline:';

function encodeCursor(key: TimelineKey): string {
  return Buffer.from(
    `${CURSOR_PREFIX}${JSON.stringify([key.at, key.rank, key.slug, key.id])}`,
  ).toString('base64');
}

function decodeCursor(cursor: string): TimelineKey {
  const invalid = () =>
    new BadUserInputError(`"${cursor.slice(0, 80)}" is not a timeline cursor we issued.`);
  const text = Buffer.from(cursor, 'base64').toString('utf8');
  if (!text.startsWith(CURSOR_PREFIX)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(CURSOR_PREFIX.length));
  } catch {
    throw invalid();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 4 ||
    typeof parsed[0] !== 'string' ||
    Number.isNaN(Date.parse(parsed[0])) ||
    ![0, 1, 2].includes(parsed[1]) ||
    typeof parsed[2] !== 'string' ||
    !Number.isSafeInteger(parsed[3])
  ) {
    throw invalid();
  }
  return { at: parsed[0], rank: parsed[1], slug: parsed[2], id: parsed[3] };
}

/** The events matching `filter` as one relation `(kind, row_id, at, rank, slug, id)`. */
function eventsSql(filter: TimelineFilterShape): SQL {
  const decisionNamesChip = (alias: string) =>
    filter?.chip != null
      ? sql`exists (select 1 from policy_decision_chips x join chips c on c.id = x.chip_id
          where x.decision_id = ${sql.raw(alias)}.id and c.slug = ${filter.chip})`
      : sql`true`;
  const decisionNamesCompany = (alias: string) =>
    filter?.company != null
      ? sql`exists (select 1 from policy_decision_companies x join companies c on c.id = x.company_id
          where x.decision_id = ${sql.raw(alias)}.id and c.slug = ${filter.company})`
      : sql`true`;
  const jurisdiction = (alias: string) =>
    filter?.jurisdiction?.length
      ? sql`${sql.raw(alias)}.jurisdiction in ${inList(filter.jurisdiction)}`
      : sql`true`;
  // Event instants are compared as timestamptz; a date D stands for D at 00:00Z.
  const within = (at: SQL) =>
    sql`${filter?.from ? sql`${at} >= (${filter.from}::date)::timestamp at time zone 'UTC'` : sql`true`}
      and ${filter?.to ? sql`${at} < ((${filter.to}::date + 1)::timestamp at time zone 'UTC')` : sql`true`}`;
  const decisionAt = sql`(d.announced_on::timestamp at time zone 'UTC')`;
  const signalAt = sql`(s.observed_on::timestamp at time zone 'UTC')`;
  return sql`
    select 'decision' as kind, d.id as row_id, ${decisionAt} as at, 0 as rank, d.slug as slug, 0::bigint as id
      from policy_decisions d
     where ${decisionNamesChip('d')} and ${decisionNamesCompany('d')} and ${jurisdiction('d')}
       and ${within(decisionAt)}
    union all
    select 'update', u.id, u.occurred_at, 1, ''::text collate "C", u.id
      from policy_decision_updates u
      join policy_decisions d on d.id = u.decision_id
     where u.from_status is not null
       and ${decisionNamesChip('d')} and ${decisionNamesCompany('d')} and ${jurisdiction('d')}
       and ${within(sql`u.occurred_at`)}
    union all
    select 'signal', s.id, ${signalAt}, 2, s.slug, 0::bigint
      from demand_signals s
     where ${filter?.chip != null ? sql`s.chip_id = (select c.id from chips c where c.slug = ${filter.chip})` : sql`true`}
       and ${
         filter?.company != null
           ? sql`exists (select 1 from demand_signal_companies x join companies c on c.id = x.company_id
               where x.signal_id = s.id and c.slug = ${filter.company})`
           : sql`true`
       }
       and ${within(signalAt)}`;
}

interface TimelinePage {
  edges: { cursor: string; node: unknown }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
  filter: TimelineFilterShape;
}

async function loadTimelinePage(
  ctx: Context,
  info: GraphQLResolveInfo,
  args: ConnectionArgs & { filter?: TimelineFilterShape },
): Promise<TimelinePage> {
  const db = ctx.db;
  const size = pageSize(args);
  const backward = args.last != null;
  const after = args.after ? decodeCursor(args.after) : null;
  const before = args.before ? decodeCursor(args.before) : null;
  const keyOf = (k: TimelineKey) =>
    sql`(${k.at}::timestamptz, ${k.rank}::int, ${k.slug}::text collate "C", ${k.id}::bigint)`;
  const conditions: SQL[] = [];
  if (after) conditions.push(sql`(e.at, e.rank, e.slug, e.id) > ${keyOf(after)}`);
  if (before) conditions.push(sql`(e.at, e.rank, e.slug, e.id) < ${keyOf(before)}`);
  const direction = backward ? sql`desc` : sql`asc`;
  const rows = await queryRows<TimelineRow>(
    db,
    sql`select e.kind, e.row_id,
               to_char(e.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
               e.rank, e.slug, e.id
          from (${eventsSql(args.filter)}) e
         where ${conditions.length ? sql.join(conditions, sql` and `) : sql`true`}
         order by e.at ${direction}, e.rank ${direction}, e.slug ${direction}, e.id ${direction}
         limit ${size + 1}`,
  );
  const hasMore = rows.length > size;
  const page = rows.slice(0, size);
  if (backward) page.reverse();

  // Each type's rows are loaded with the selection planned under `edges.node`.
  const load = (kind: TimelineRow['kind'], typeName: NodeTypeName) =>
    loadPlannedRows(
      ctx,
      info,
      typeName,
      'id',
      page.filter((row) => row.kind === kind).map((row) => Number(row.row_id)),
      ['edges', 'node'],
    );
  const [decisions, updates, signals] = await Promise.all([
    load('decision', 'PolicyDecision'),
    load('update', 'PolicyDecisionUpdate'),
    load('signal', 'DemandSignal'),
  ]);
  const byKind: Record<TimelineRow['kind'], Map<string, object>> = {
    decision: decisions,
    update: updates,
    signal: signals,
  };
  const edges = page.flatMap((row) => {
    const node = byKind[row.kind].get(String(row.row_id));
    // A row deleted between the two statements simply drops out of the page.
    if (!node) return [];
    return [
      {
        cursor: encodeCursor({
          at: row.at,
          rank: Number(row.rank),
          slug: row.slug,
          id: Number(row.id),
        }),
        node,
      },
    ];
  });
  return {
    edges,
    filter: args.filter,
    pageInfo: {
      hasNextPage: backward ? before != null : hasMore,
      hasPreviousPage: backward ? hasMore : after != null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

builder.queryFields((t) => ({
  timeline: t.connection(
    {
      type: TimelineEvent,
      description:
        'The story in chronological order, oldest first: each decision at its `announcedOn`, ' +
        'each real status change at its `occurredAt`, each demand signal at its `observedOn`. ' +
        'Ties: decision, then status change, then signal, then slug/id.',
      complexity: connectionComplexity('timeline'),
      args: { filter: t.arg({ type: TimelineFilter, description: 'Narrows the timeline.' }) },
      resolve: (_root, args, ctx, info) => loadTimelinePage(ctx, info, args) as never,
    },
    {
      name: 'TimelineConnection',
      description: 'A page of the chronological story.',
      fields: (c) => ({
        totalCount: c.int({
          description: 'Number of events matching the filter across all pages.',
          resolve: async (connection, _args, ctx) => {
            const filter = (connection as unknown as TimelinePage).filter;
            const [row] = await queryRows<{ count: number }>(
              ctx.db,
              sql`select count(*)::int as count from (${eventsSql(filter)}) e`,
            );
            return Number(row?.count ?? 0);
          },
        }),
      }),
    },
    { name: 'TimelineEdge', description: 'An event of the timeline and its cursor.' },
  ),
}));
