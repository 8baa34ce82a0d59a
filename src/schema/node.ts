/**
 * Relay global object identification: `Query.node(id)` and `Query.nodes(ids)`.
 *
 * A global ID is base64 of `Type:key`, where the key is the slug (immutable, so IDs survive a
 * reseed and match across environments) or, for `PolicyDecisionUpdate`, the row id.
 */
import { brandWithType } from '@pothos/core';
import { getSchemaConfig, queryFromInfo } from '@pothos/plugin-drizzle';
import type { GraphQLResolveInfo } from 'graphql';
import { builder } from '../builder.js';
import { parseEventCursor } from '../codecs.js';
import type { Context } from '../context.js';
import { idsComplexity, MAX_LIST_ARGUMENT, REPLAY_MAX } from '../cost.js';
import { type DecodedGlobalId, decodeGlobalId } from '../db/global-ids.js';
import { PLAIN_LIST_MAX } from '../db/limits.js';
import { NODE_TYPES, type NodeTypeName } from '../db/node-types.js';
import { BadUserInputError } from '../errors.js';
import { textLimit } from '../input-limits.js';
import { special } from '../plan/metadata.js';

/** Description of a subscription's `after:` argument. */
export const AFTER_EVENT_CURSOR =
  'Resume after this `eventCursor`: first replays the stored events that came after it, then ' +
  `streams live. At most ${REPLAY_MAX} events (of any subscription) may have come after it: a ` +
  'cursor further behind is refused with BAD_USER_INPUT (read the missed range with the lists, ' +
  `or resume from a newer cursor). With it the subscription costs its selection ${REPLAY_MAX + 1} ` +
  'times. Omit it to receive only new events.';

/**
 * A subscription's `after:` as an event sequence number, checked against the store: a cursor
 * past the newest committed event cannot have come from this database (a reset database,
 * another environment), and waiting for it would deliver nothing, so it is `BAD_USER_INPUT`;
 * so is a cursor more than `REPLAY_MAX` events behind (counted with a bounded statement the
 * subscriptions resuming at the same time share, see `EventHub.cursorPosition`), whose replay
 * the subscription was not charged for.
 */
export async function checkedAfter(
  ctx: Context,
  cursor: string | null | undefined,
): Promise<number | undefined> {
  // An EventSource reconnecting sends the id of the last event it received: newer than the
  // `after:` of the URL it first opened (see `Context.lastEventId`).
  const name = ctx.lastEventId !== undefined ? '`Last-Event-ID`' : '`after`';
  const given = ctx.lastEventId ?? cursor;
  if (given == null) return undefined;
  const after = parseEventCursor(given);
  if (after === undefined) {
    throw new BadUserInputError(
      `${name} is not an event cursor: pass the \`eventCursor\` of an update or signal you received.`,
    );
  }
  // Shared with the other subscriptions resuming meanwhile (see `src/pubsub/replay.ts`).
  const { newest, behind } = await ctx.events.cursorPosition(after, REPLAY_MAX + 1);
  if (after > newest) {
    throw new BadUserInputError(
      `${name} is past the newest event of this gateway: it comes from another database. ` +
        'Subscribe without it to start from now.',
    );
  }
  if (behind > REPLAY_MAX) {
    throw new BadUserInputError(
      `${name} is more than ${REPLAY_MAX} events behind the newest event: a subscription ` +
        `replays at most ${REPLAY_MAX}. Read what you missed with the lists (\`demandSignals\`, ` +
        `a decision's \`updates\`: its latest ${PLAIN_LIST_MAX} status changes) and subscribe ` +
        'with a newer `eventCursor`, or ' +
        'without it to start from now.',
    );
  }
  return after;
}

/**
 * Loads the rows of one node type whose `column` is in `values`, with the selection planned
 * from the query at `path` under the current field (nested fields included, so resolving them
 * sends no further statements), branded so interfaces and unions know their type. One SQL
 * statement; rows come back keyed by the string form of `column`.
 */
export async function loadPlannedRows(
  ctx: Context,
  info: GraphQLResolveInfo,
  typeName: NodeTypeName,
  column: 'slug' | 'id',
  values: readonly (string | number)[],
  path?: string[],
): Promise<Map<string, object>> {
  const rows = new Map<string, object>();
  if (values.length === 0) return rows;
  const query = queryFromInfo({
    config: getSchemaConfig(builder),
    context: ctx,
    info,
    typeName,
    ...(path ? { path } : {}),
    where: { [column]: { in: [...values] } },
  });
  const finder = ctx.db.query[NODE_TYPES[typeName].table] as unknown as {
    findMany: (query: unknown) => Promise<Record<string, unknown>[]>;
  };
  for (const row of await finder.findMany(query)) {
    brandWithType(row, typeName as never);
    rows.set(String(row[column]), row);
  }
  return rows;
}

/** Loads decoded IDs with one query per node type; null where no row exists, in asked order. */
async function loadNodes(
  ctx: Context,
  info: GraphQLResolveInfo,
  ids: readonly DecodedGlobalId[],
): Promise<(object | null)[]> {
  const byType = new Map<NodeTypeName, Set<string>>();
  for (const { typename, id } of ids) {
    const keys = byType.get(typename) ?? new Set<string>();
    keys.add(id);
    byType.set(typename, keys);
  }
  const found = new Map<NodeTypeName, Map<string, object>>();
  await Promise.all(
    [...byType.entries()].map(async ([typename, keys]) => {
      const { key } = NODE_TYPES[typename];
      const values = key === 'id' ? [...keys].map(Number) : [...keys];
      found.set(typename, await loadPlannedRows(ctx, info, typename, key, values));
    }),
  );
  return ids.map(({ typename, id }) => found.get(typename)?.get(id) ?? null);
}

builder.queryFields((t) => ({
  node: t.field({
    type: builder.nodeInterfaceRef(),
    nullable: true,
    description:
      'Fetches any object by its global `id`. Returns null for a well-formed ID whose object ' +
      'does not exist; a malformed ID is a BAD_USER_INPUT error.',
    extensions: special('node'),
    args: {
      id: t.arg.id({
        required: true,
        ...textLimit('globalId', 'A global ID, as returned in an `id` field.'),
      }),
    },
    resolve: async (_root, args, ctx, info) => {
      const [node] = await loadNodes(ctx, info, [decodeGlobalId(String(args.id))]);
      return (node ?? null) as never;
    },
  }),
  nodes: t.field({
    type: [builder.nodeInterfaceRef()],
    nullable: { list: false, items: true },
    description:
      'Fetches objects by global ID, in the order asked. A position is null when its object ' +
      'does not exist; a malformed ID nulls only its own position, with a BAD_USER_INPUT error ' +
      'whose path points at it. An ID listed twice is answered at both positions (and charged ' +
      'twice); its object is read once.',
    extensions: special('nodes'),
    args: {
      ids: t.arg.idList({
        required: true,
        ...textLimit(
          'globalId',
          `Global IDs, at most ${MAX_LIST_ARGUMENT} of them; each is charged (repeats too). An ID longer than the limit below (longer than any object's) refuses the whole request.`,
        ),
      }),
    },
    complexity: idsComplexity,
    resolve: async (_root, args, ctx, info) => {
      if (args.ids.length > MAX_LIST_ARGUMENT) {
        throw new BadUserInputError(
          `Ask for at most ${MAX_LIST_ARGUMENT} ids at once, got ${args.ids.length}.`,
        );
      }
      const decoded = args.ids.map((id) => {
        try {
          return decodeGlobalId(String(id));
        } catch (error) {
          return error as BadUserInputError;
        }
      });
      const valid = decoded.filter((entry): entry is DecodedGlobalId => !(entry instanceof Error));
      const loaded = await loadNodes(ctx, info, valid);
      let next = 0;
      // graphql-js turns an Error in a list position into null plus an error at that path.
      return decoded.map((entry) =>
        entry instanceof Error ? entry : (loaded[next++] ?? null),
      ) as never;
    },
  }),
}));
