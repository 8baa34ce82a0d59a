/**
 * `timeline`: the story in order. Decisions (at their announcement), real status transitions
 * and demand signals, merged into one chronological Relay connection over the union
 * `TimelineEvent`. Source: the curated store (the events relation is in `src/db/timeline.ts`).
 *
 * One SQL statement picks the page; the page's rows are then loaded with one query per type,
 * so a page costs at most four statements whatever its size.
 */
import type { GraphQLResolveInfo } from 'graphql';
import { builder } from '../builder.js';
import type { Context } from '../context.js';
import { pageComplexity } from '../cost.js';
import { decodeCursor, encodeCursor } from '../db/cursors.js';
import { pageWindow } from '../db/lists.js';
import type { NodeTypeName } from '../db/node-types.js';
import {
  countTimeline,
  loadTimelineRows,
  TIMELINE_CURSOR,
  type TimelineFilterValue,
  type TimelineRow,
} from '../db/timeline.js';
import { textLimit } from '../input-limits.js';
import { type ConnectionArgs, pageSize } from '../paging.js';
import { pagePart, special } from '../plan/metadata.js';
import { type ListConnection, pageInfoOf, pageRequestOf } from './connections.js';
import { DemandSignal } from './demand-signal.js';
import { loadPlannedRows } from './node.js';
import { PolicyDecision, PolicyDecisionUpdate } from './policy-decision.js';

export const TimelineEvent = builder.unionType('TimelineEvent', {
  description:
    'One step of the story: a decision (at its announcement), a status change of a decision, ' +
    'or a demand signal.',
  types: [PolicyDecision, PolicyDecisionUpdate, DemandSignal],
});

export const TimelineFilter = builder.inputRef<TimelineFilterValue>('TimelineFilter').implement({
  description: 'Narrows the timeline. All given conditions must hold.',
  fields: (t) => ({
    chip: t.string(
      textLimit(
        'slug',
        'Only the story of this chip (a slug): decisions naming it, their status changes, and signals about it.',
      ),
    ),
    company: t.string(
      textLimit(
        'slug',
        'Only the story of this company (a slug): decisions naming it, their status changes, and signals naming it.',
      ),
    ),
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

/** The arguments of `timeline`. */
interface TimelineArgs extends ConnectionArgs {
  filter?: TimelineFilterValue | null;
}

/** Checks and decodes the timeline's paging arguments; throws `BadUserInputError`. */
export function timelinePage(args: TimelineArgs) {
  return {
    size: pageSize(args),
    backward: args.last != null,
    ...(args.after != null ? { after: decodeCursor('after', args.after, TIMELINE_CURSOR) } : {}),
    ...(args.before != null
      ? { before: decodeCursor('before', args.before, TIMELINE_CURSOR) }
      : {}),
  };
}

/** The node type of each kind of event. */
const NODE_TYPE: Record<TimelineRow['kind'], NodeTypeName> = {
  decision: 'PolicyDecision',
  update: 'PolicyDecisionUpdate',
  signal: 'DemandSignal',
};

async function loadTimelinePage(
  ctx: Context,
  info: GraphQLResolveInfo,
  args: TimelineArgs,
): Promise<ListConnection<object>> {
  const page = timelinePage(args);
  const rows = await loadTimelineRows(ctx.db, args.filter, page);
  const window = pageWindow(rows, pageRequestOf(page), 'read');
  const pageRows = window.rows;

  // Each type's rows are loaded with the selection planned under `edges.node`.
  const kinds = Object.keys(NODE_TYPE) as TimelineRow['kind'][];
  const loaded = await Promise.all(
    kinds.map((kind) =>
      loadPlannedRows(
        ctx,
        info,
        NODE_TYPE[kind],
        'id',
        pageRows.filter((row) => row.kind === kind).map((row) => row.rowId),
        ['edges', 'node'],
      ),
    ),
  );
  const byKind = new Map(kinds.map((kind, i) => [kind, loaded[i]]));
  const edges = pageRows.flatMap((row) => {
    const node = byKind.get(row.kind)?.get(String(row.rowId));
    // A row deleted between the two statements simply drops out of the page.
    return node ? [{ cursor: encodeCursor(TIMELINE_CURSOR, row.position), node }] : [];
  });
  return {
    edges,
    pageInfo: pageInfoOf(window, edges),
    totalCount: () => countTimeline(ctx.db, args.filter),
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
      complexity: (args: TimelineArgs) => pageComplexity(timelinePage(args).size),
      extensions: special('timeline'),
      args: { filter: t.arg({ type: TimelineFilter, description: 'Narrows the timeline.' }) },
      resolve: (_root, args, ctx, info) => loadTimelinePage(ctx, info, args) as never,
    },
    {
      name: 'TimelineConnection',
      description: 'A page of the chronological story.',
      fields: (c) => ({
        totalCount: c.int({
          description: 'Number of events matching the filter across all pages.',
          extensions: pagePart('totalCount'),
          resolve: (connection) => (connection as unknown as ListConnection<object>).totalCount(),
        }),
      }),
    },
    { name: 'TimelineEdge', description: 'An event of the timeline and its cursor.' },
  ),
}));
