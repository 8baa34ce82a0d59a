/**
 * What a change to the store may alter in cached responses. The database says which rows a
 * statement changed, and the rows they relate to, by table and API key (slugs, row ids; see the
 * `change_notify` migrations); this module turns that into cache evictions:
 * - the entities it touched: `{ typename, id }` with the Relay global id of each row of a node
 *   type (the node-type registry, `NODE_TYPES`, maps its table to its GraphQL type);
 * - the lists that may now differ: `CHANGE_FEEDS` says, per table, the list types and root fields
 *   it feeds (for node types, from their registry entry). A cached response is tagged with every
 *   type and root field its document selects (see `selectionTags`), so a list that is empty or
 *   only counted is evicted too.
 *
 * It does not depend on how a result was computed (drizzle, a planner, a cache of its own): only
 * on the change and on the document.
 */

import { getTableName } from 'drizzle-orm';
import {
  type DocumentNode,
  type GraphQLSchema,
  getNamedType,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import { encodeGlobalId } from '../codecs.js';
import { type NodeTypeName, nodeTypes } from '../db/node-types.js';
import { relations } from '../db/relations.js';
import {
  apiKeys,
  demandSignalCompanies,
  policyDecisionChips,
  policyDecisionCompanies,
} from '../db/schema.js';

/** One statement's change, as the trigger announces it. */
export interface TableChange {
  /** The SQL name of the table the statement wrote (`companies`, `policy_decision_chips`, ...). */
  table: string;
  op: 'INSERT' | 'UPDATE' | 'DELETE';
  /**
   * Keys of the changed and related rows by SQL table name: slugs, row ids of
   * `policy_decision_updates` and `api_keys`.
   */
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

/** What a change to one table may alter: see `CHANGE_FEEDS`. */
interface ChangeFeed {
  entities: readonly string[];
  lists: readonly string[];
}

/** The node type whose rows live in each SQL table. */
const NODE_TYPE_OF_TABLE = new Map<string, NodeTypeName>(
  nodeTypes().map(([type, entry]) => [getTableName(relations[entry.table].table), type]),
);

/**
 * Per SQL table: `entities`, the types its rows are (evicted whole on `all`), and `lists`, the
 * list types and `Query` fields whose answers may change when rows appear, disappear or change
 * their sort and filter columns. Results that contain a changed entity are evicted by its id
 * anyway. Node types' tables come from the registry; link tables are declared here.
 */
export const CHANGE_FEEDS: ReadonlyMap<string, ChangeFeed> = new Map<string, ChangeFeed>([
  ...nodeTypes().map(([type, entry]): [string, ChangeFeed] => [
    getTableName(relations[entry.table].table),
    {
      entities: [type, ...(entry.alsoEntities ?? [])],
      lists: [...entry.lists, 'Query.node', 'Query.nodes'],
    },
  ]),
  [
    getTableName(policyDecisionChips),
    {
      entities: ['AffectedChip', 'ExportStatus'],
      lists: ['PolicyDecisionConnection', 'ChipPolicyDecisionConnection', 'TimelineConnection'],
    },
  ],
  [
    getTableName(policyDecisionCompanies),
    { entities: ['PolicyDecision'], lists: ['PolicyDecisionConnection', 'TimelineConnection'] },
  ],
  [
    getTableName(demandSignalCompanies),
    { entities: ['DemandSignal'], lists: ['DemandSignalConnection', 'TimelineConnection'] },
  ],
  // No cached answer depends on a key (`viewer` is never cached). What does, the key's open
  // subscriptions and WebSocket connections, hears of it through `Access.sessions`.
  [getTableName(apiKeys), { entities: [], lists: [] }],
]);

/** Parses a `chipgate_changes` payload; undefined when it is not one. */
export function parseChange(payload: string): TableChange | undefined {
  try {
    const change = JSON.parse(payload) as TableChange;
    return CHANGE_FEEDS.has(change.table) ? change : undefined;
  } catch {
    return undefined;
  }
}

/** Every type and list any table feeds: what a `reset` evicts. */
const EVERYTHING: CacheEntity[] = [
  ...new Set([...CHANGE_FEEDS.values()].flatMap((feed) => [...feed.entities, ...feed.lists])),
].map((typename) => ({ typename }));

/** The cache entries a change may have made wrong (see the module comment). */
export function evictionsFor(change: ChangeNotice): CacheEntity[] {
  if ('reset' in change) return EVERYTHING;
  const feed = CHANGE_FEEDS.get(change.table);
  if (!feed) return [];
  const lists = feed.lists.map((typename) => ({ typename }));
  if (change.all) return [...feed.entities.map((typename) => ({ typename })), ...lists];
  const entities = Object.entries(change.keys ?? {}).flatMap(([table, keys]) => {
    const typename = NODE_TYPE_OF_TABLE.get(table);
    return typename ? keys.map((key) => ({ typename, id: encodeGlobalId(typename, key) })) : [];
  });
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
