/**
 * What a change to the store may alter in cached responses. The database says which rows a
 * statement changed, and the rows they relate to, by the keys of the API (see the
 * `change_notify` migration); this module turns that into cache evictions:
 * - the entities it touched: `{ typename, id }` with the Relay global id of each row;
 * - the lists that may now differ: `CHANGE_FEEDS` declares, per table, the list types and root
 *   fields it feeds. A cached response is tagged with every type and root field its document
 *   selects (see `selectionTags`), so a list that is empty or only counted is evicted too.
 *
 * It does not depend on how a result was computed (drizzle, a planner, a cache of its own): only
 * on the change and on the document.
 */

import {
  type DocumentNode,
  type GraphQLSchema,
  getNamedType,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import { encodeGlobalId } from '../schema/node.js';

/** The tables whose changes are announced on `chipgate_changes`. */
export type ChangeTable =
  | 'companies'
  | 'chips'
  | 'policy_decisions'
  | 'policy_decision_chips'
  | 'policy_decision_companies'
  | 'policy_decision_updates'
  | 'demand_signals'
  | 'demand_signal_companies'
  | 'api_keys';

/** One statement's change, as the trigger announces it. */
export interface TableChange {
  table: ChangeTable;
  op: 'INSERT' | 'UPDATE' | 'DELETE';
  /** Keys of the changed and related rows by GraphQL type: slugs, row ids of updates, key ids. */
  keys?: Record<string, string[]>;
  /** Too many rows to name: everything the table feeds may differ. */
  all?: boolean;
}

/** A change, or `reset`: changes may have been missed (LISTEN reconnected), evict everything. */
export type ChangeNotice = TableChange | { reset: true };

/** An eviction as the response cache takes it: a type (or root field), or one entity. */
export interface CacheEntity {
  typename: string;
  id?: string;
}

/**
 * Per table: `entities`, the types its rows are (evicted whole on `all`), and `lists`, the list
 * types and `Query` fields whose answers may change when rows appear, disappear or change their
 * sort and filter columns. Results that contain a changed entity are evicted by its id anyway.
 */
export const CHANGE_FEEDS: Record<ChangeTable, { entities: string[]; lists: string[] }> = {
  companies: {
    entities: ['Company'],
    lists: ['CompanyConnection', 'Query.company', 'Query.node', 'Query.nodes'],
  },
  chips: {
    entities: ['Chip'],
    lists: ['ChipConnection', 'Query.chip', 'Query.node', 'Query.nodes'],
  },
  policy_decisions: {
    entities: ['PolicyDecision', 'ExportStatus'],
    lists: [
      'PolicyDecisionConnection',
      'ChipPolicyDecisionConnection',
      'TimelineConnection',
      'Query.policyDecision',
      'Query.node',
      'Query.nodes',
    ],
  },
  policy_decision_chips: {
    entities: ['AffectedChip', 'ExportStatus'],
    lists: ['PolicyDecisionConnection', 'ChipPolicyDecisionConnection', 'TimelineConnection'],
  },
  policy_decision_companies: {
    entities: ['PolicyDecision'],
    lists: ['PolicyDecisionConnection', 'TimelineConnection'],
  },
  policy_decision_updates: {
    entities: ['PolicyDecisionUpdate', 'ExportStatus'],
    lists: ['TimelineConnection', 'Query.node', 'Query.nodes'],
  },
  demand_signals: {
    entities: ['DemandSignal'],
    lists: [
      'DemandSignalConnection',
      'TimelineConnection',
      'Query.demandSignal',
      'Query.node',
      'Query.nodes',
    ],
  },
  demand_signal_companies: {
    entities: ['DemandSignal'],
    lists: ['DemandSignalConnection', 'TimelineConnection'],
  },
  // No cached answer depends on a key (`viewer` is never cached). What does, the key's open
  // subscriptions and WebSocket connections, hears of it through `Access.sessions`.
  api_keys: { entities: [], lists: [] },
};

const TABLES = new Set(Object.keys(CHANGE_FEEDS));

/** Parses a `chipgate_changes` payload; undefined when it is not one. */
export function parseChange(payload: string): TableChange | undefined {
  try {
    const change = JSON.parse(payload) as TableChange;
    return TABLES.has(change.table) ? change : undefined;
  } catch {
    return undefined;
  }
}

/** Every type and list any table feeds: what a `reset` evicts. */
const EVERYTHING: CacheEntity[] = [
  ...new Set(Object.values(CHANGE_FEEDS).flatMap((feed) => [...feed.entities, ...feed.lists])),
].map((typename) => ({ typename }));

/** The cache entries a change may have made wrong (see the module comment). */
export function evictionsFor(change: ChangeNotice): CacheEntity[] {
  if ('reset' in change) return EVERYTHING;
  const feed = CHANGE_FEEDS[change.table];
  const lists = feed.lists.map((typename) => ({ typename }));
  if (change.all) return [...feed.entities.map((typename) => ({ typename })), ...lists];
  const entities = Object.entries(change.keys ?? {}).flatMap(([typename, keys]) =>
    keys.map((key) => ({ typename, id: encodeGlobalId(typename, key) })),
  );
  return [...entities, ...lists];
}

/**
 * The tags of a cached response: the name of every type its document selects fields of or
 * returns, and every `Query` field it selects (`Query.company`), so that `CHANGE_FEEDS` can
 * evict a list whether it came back full, empty or only counted.
 */
export function selectionTags(schema: GraphQLSchema, document: DocumentNode): CacheEntity[] {
  const tags = new Set<string>();
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const parent = typeInfo.getParentType();
        const type = typeInfo.getType();
        if (parent?.name === schema.getQueryType()?.name) tags.add(`Query.${node.name.value}`);
        if (type) tags.add(getNamedType(type).name);
      },
    }),
  );
  return [...tags].map((typename) => ({ typename }));
}
