/**
 * The node-type registry: every GraphQL type with a global ID, declared once. Each entry names
 * the drizzle table its rows live in (TypeScript key of `src/db/schema.ts`; the SQL name follows
 * from the table), the column its global-ID key is made of, and what a change to that table may
 * alter in cached answers (its change feed). Everything else derives from here: the global-ID
 * decoder (`src/db/global-ids.ts`), the longest global ID (`GLOBAL_ID_KEYS`), `Query.node`'s
 * loader (`src/schema/node.ts`) and the response cache's evictions (`src/pubsub/changes.ts`).
 * The change trigger in `drizzle/` names tables only, never GraphQL types.
 *
 * Adding a node type: its table (`src/db/schema.ts`, `src/db/relations.ts`, a migration with its
 * change triggers), its type module under `src/schema/`, and one entry here.
 */

/** The column a node type's global-ID key is made of: an immutable slug, or the row id. */
export type NodeKey = 'slug' | 'id';

/** One node type: where its rows live and what their changes may alter. */
export interface NodeTypeEntry {
  /** The drizzle table (TypeScript name, as in `db.query.<table>`). */
  readonly table:
    | 'companies'
    | 'chips'
    | 'policyDecisions'
    | 'demandSignals'
    | 'policyDecisionUpdates';
  /** The column the global ID's key is made of. */
  readonly key: NodeKey;
  /**
   * Besides the type itself: other types whose cached objects hold data of these rows (evicted
   * whole when a change is too large to name its rows).
   */
  readonly alsoEntities?: readonly string[];
  /**
   * List types and `Query` fields whose answers may change when rows appear, disappear or change
   * their sort and filter columns (`Query.node` and `Query.nodes` are implied for every type).
   */
  readonly lists: readonly string[];
}

/** Every node type, by GraphQL type name. */
export const NODE_TYPES = {
  Company: {
    table: 'companies',
    key: 'slug',
    lists: ['CompanyConnection', 'Query.company'],
  },
  Chip: {
    table: 'chips',
    key: 'slug',
    lists: ['ChipConnection', 'Query.chip'],
  },
  PolicyDecision: {
    table: 'policyDecisions',
    key: 'slug',
    alsoEntities: ['ExportStatus'],
    lists: [
      'PolicyDecisionConnection',
      'ChipPolicyDecisionConnection',
      'TimelineConnection',
      'Query.policyDecision',
    ],
  },
  DemandSignal: {
    table: 'demandSignals',
    key: 'slug',
    lists: ['DemandSignalConnection', 'TimelineConnection', 'Query.demandSignal'],
  },
  PolicyDecisionUpdate: {
    table: 'policyDecisionUpdates',
    key: 'id',
    alsoEntities: ['ExportStatus'],
    lists: ['TimelineConnection'],
  },
} as const satisfies Record<string, NodeTypeEntry>;

/** A GraphQL type that implements `Node`. */
export type NodeTypeName = keyof typeof NODE_TYPES;

/** Whether `name` is a node type (own properties only: `__proto__` is not one). */
export const isNodeType = (name: string): name is NodeTypeName => Object.hasOwn(NODE_TYPES, name);

/** The node types with their entries, in declaration order. */
export const nodeTypes = (): [NodeTypeName, NodeTypeEntry][] =>
  Object.entries(NODE_TYPES) as [NodeTypeName, NodeTypeEntry][];
