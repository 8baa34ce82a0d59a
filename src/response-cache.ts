/**
 * The response cache for reads: yoga's response-cache plugin, with its Redis store when
 * `CHIPGATE_REDIS_URL` is set (instances then share entries) and in memory otherwise.
 *
 * - Queries only (a mutation runs every time), keyed by document, variables and operation name.
 *   Results that select `viewer` or introspection (`__schema`, `__type`) depend on the caller
 *   and are never cached; nothing else does. A hit is looked up after the request was
 *   authenticated and counted against its key's request limit; it is not charged query cost
 *   (it runs nothing).
 * - Invalidated by the event feed: every instance hears every change of the store from any
 *   writer (`EventHub.onChange`) and evicts what it may have altered (`evictionsFor`); after a
 *   lost LISTEN connection, everything. A read that ran while a change arrived is not stored.
 * - A result that used an external source is kept no longer than the freshest-expiring source
 *   value in it (`extensions.sources`), and not at all when a source failed or answered stale.
 * - `extensions.responseCache` says `hit` (true/false). A hit runs no SQL.
 * - Redis unavailable (see `SharedRedis`) costs only the cache: reads are executed and nothing
 *   is stored. Evictions it missed meanwhile are made (everything is evicted) before the shared
 *   entries are used again.
 */
import type { Cache, CacheEntityRecord } from '@envelop/response-cache';
import { createRedisCache } from '@envelop/response-cache-redis';
import {
  createInMemoryCache,
  hashSHA256,
  useResponseCache,
} from '@graphql-yoga/plugin-response-cache';
import {
  type DocumentNode,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  parse,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import {
  type CacheEntity,
  type ChangeNotice,
  evictionsFor,
  selectionTags,
} from './pubsub/changes.js';
import type { SharedRedis } from './redis.js';
import type { ProvenanceEntry } from './sources/index.js';

/** Settings of the response cache (see the README's configuration table). */
export interface ResponseCacheOptions {
  /** How long a result is kept, in seconds; 0 turns the cache off. */
  ttlSeconds: number;
  /** The Redis shared by the instances; without it each keeps its own entries in memory. */
  redis?: SharedRedis | undefined;
  /** Prefix of every Redis key (several deployments, or test runs, may share one Redis). */
  redisPrefix?: string;
  /** How long each source's values are fresh, in ms, to bound results that used them. */
  sourceTtlMs?: Partial<Record<ProvenanceEntry['source'], number>>;
}

/** A response cache: the yoga plugins and the eviction entry point. */
export interface ResponseCache {
  /** The cache itself, and the fence that makes a mutation's own changes evicted before it answers. */
  plugins(fence: () => Promise<void>): Plugin[];
  /** Evicts what a change may have altered (the event hub calls this for every change). */
  onChange(change: ChangeNotice): Promise<void>;
  /** Releases nothing today (the Redis connection belongs to the caller); kept for symmetry. */
  close(): Promise<void>;
}

/** Creates the cache, or undefined when `ttlSeconds` is 0. */
export function createResponseCache(
  schema: GraphQLSchema,
  options: ResponseCacheOptions,
): ResponseCache | undefined {
  if (options.ttlSeconds <= 0) return undefined;
  const store: Cache = options.redis
    ? sharedStore(options.redis, options.redisPrefix ?? 'chipgate:cache:')
    : createInMemoryCache({ max: 10_000 });

  // Changes seen so far: a read that started before one and stores after it is not stored.
  let generation = 0;
  const startedAt = new LRUCache<string, number>({ max: 10_000 });
  const documents = new LRUCache<string, DocumentFacts>({ max: 1_000 });
  const factsOf = (documentString: string): DocumentFacts => {
    let entry = documents.get(documentString);
    if (!entry) {
      let document: DocumentNode | undefined;
      try {
        document = parse(documentString);
      } catch {
        document = undefined;
      }
      entry = {
        document,
        tags: document ? selectionTags(schema, document) : [],
      };
      documents.set(documentString, entry);
    }
    return entry;
  };
  const tagsOf = (documentString: string) => factsOf(documentString).tags;
  // Whether a request's operation may be served from and stored in the cache (see `cacheable`).
  const cacheableRequests = new WeakMap<Request, boolean>();
  const documentOfKey = new LRUCache<string, string>({ max: 10_000 });

  const cache: Cache = {
    get: (key) => store.get(key),
    set(key, result, entities, ttl) {
      const started = startedAt.get(key);
      startedAt.delete(key);
      if (started !== undefined && started !== generation) return;
      const sources = (result.extensions as { sources?: ProvenanceEntry[] } | undefined)?.sources;
      const bounded = boundBySources(ttl, sources, options.sourceTtlMs ?? {});
      if (bounded <= 0) return;
      const documentString = documentOfKey.get(key);
      const tags = documentString ? tagsOf(documentString) : [];
      return store.set(key, result, [...entities, ...tags] as CacheEntityRecord[], bounded);
    },
    invalidate: (entities) => store.invalidate(entities),
  };

  const plugin = useResponseCache({
    cache,
    ttl: options.ttlSeconds * 1000,
    session: () => null,
    // HTTP only (WebSocket operations have no request to key), and queries only: decided when
    // the request's key is built, after it was authenticated and counted (usePartnerAccess).
    // Before that (yoga's If-None-Match check as a request arrives) nothing is served.
    enabled: (request) => (request ? cacheableRequests.get(request) === true : false),
    // The caller's own data: per key by nature, never shared, so never cached.
    ignoredTypes: ['Viewer'],
    ttlPerSchemaCoordinate: { 'Query.viewer': 0 },
    includeExtensionMetadata: true,
    // Our own eviction follows every writer; a mutation's result says nothing more.
    invalidateViaMutation: false,
    shouldCacheResult: ({ result }) => !result.errors?.length,
    buildResponseCacheKey: async (params) => {
      // Variables were checked for depth before (useHttpEdges), so stringifying them is safe.
      const key = await hashSHA256(
        [
          params.documentString,
          params.operationName ?? '',
          JSON.stringify(params.variableValues ?? {}),
        ].join('\u0000'),
      );
      const { document } = factsOf(params.documentString);
      const ok = document !== undefined && cacheable(document, params.operationName);
      cacheableRequests.set(params.request, ok);
      if (ok) {
        if (!startedAt.has(key)) startedAt.set(key, generation);
        documentOfKey.set(key, params.documentString);
      }
      return key;
    },
  }) as Plugin;

  return {
    plugins(fence) {
      const mutations = new WeakSet<Request>();
      return [
        plugin,
        {
          onExecute({ args }) {
            const request = (args.contextValue as { request?: Request }).request;
            const operation = getOperationAST(args.document, args.operationName);
            if (request && operation?.operation === 'mutation') mutations.add(request);
          },
          // Read your writes: a mutation answers once this instance evicted what it changed.
          async onResultProcess({ request }) {
            if (mutations.has(request)) await fence();
          },
        } as Plugin,
      ];
    },
    async onChange(change) {
      generation += 1;
      await cache.invalidate(evictionsFor(change));
    },
    async close() {},
  };
}

/**
 * The store shared through Redis: @envelop's Redis cache on the gateway's Redis connection,
 * every key under `prefix` (response keys, entity and type sets alike), every operation within
 * the connection's deadline and breaker. While Redis is unavailable a read is a miss, nothing is
 * stored, and an eviction is only remembered: before the entries are used again, everything is
 * evicted (as after a lost LISTEN connection).
 */
function sharedStore(redis: SharedRedis, prefix: string): Cache {
  const store = createRedisCache({
    redis: redis.client,
    buildRedisOperationResultCacheKey: (responseKey) =>
      `${prefix}operations:${responseKey.slice(prefix.length)}`,
  });
  const prefixed = (entities: Iterable<CacheEntityRecord | CacheEntity>) =>
    [...entities].map((entity) => ({ ...entity, typename: `${prefix}${entity.typename}` }));
  let missedEvictions = false;
  redis.whenBack(async () => {
    if (!missedEvictions) return;
    // Nothing is stored while the breaker is not closed, so what this finds is all there is.
    missedEvictions = false;
    try {
      await store.invalidate(prefixed(evictionsFor({ reset: true })));
    } catch (error) {
      missedEvictions = true;
      throw error;
    }
  });
  return {
    get: (key) =>
      redis.run(
        async () => store.get(`${prefix}${key}`),
        () => undefined,
      ),
    set: (key, result, entities, ttl) =>
      redis.run(
        async () => store.set(`${prefix}${key}`, result, prefixed(entities), ttl),
        () => undefined,
      ),
    invalidate: (entities) =>
      redis.run(
        async () => store.invalidate(prefixed(entities)),
        () => {
          missedEvictions = true;
        },
      ),
  };
}

/** What the cache keeps of a document text: its parse and the entities it reads. */
interface DocumentFacts {
  document: DocumentNode | undefined;
  tags: ReturnType<typeof selectionTags>;
}

const INTROSPECTION_ROOTS = new Set(['__schema', '__type']);

/**
 * Whether an operation's result may be cached: a query (a mutation must run every time, a
 * subscription is not a single result) that reads no introspection root field (`__schema`,
 * `__type`: who may see them depends on the caller, `CHIPGATE_INTROSPECTION`, and a hit skips
 * the validation that refuses them).
 */
export function cacheable(document: DocumentNode, operationName?: string | null): boolean {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'query') return false;
  const fragments = new Map<string, SelectionSetNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      fragments.set(definition.name.value, definition.selectionSet);
    }
  }
  const seen = new Set<string>();
  const readsIntrospection = (set: SelectionSetNode): boolean =>
    set.selections.some((selection) => {
      if (selection.kind === Kind.FIELD) return INTROSPECTION_ROOTS.has(selection.name.value);
      if (selection.kind === Kind.INLINE_FRAGMENT)
        return readsIntrospection(selection.selectionSet);
      const name = selection.name.value;
      if (seen.has(name)) return false;
      seen.add(name);
      const fragment = fragments.get(name);
      return fragment ? readsIntrospection(fragment) : false;
    });
  return !readsIntrospection(operation.selectionSet);
}

/**
 * The time a result may stay, in ms: its TTL, but no longer than the freshness left of any
 * external source value it used; 0 when a source failed or answered stale.
 */
export function boundBySources(
  ttlMs: number,
  sources: readonly ProvenanceEntry[] | undefined,
  sourceTtlMs: Partial<Record<ProvenanceEntry['source'], number>>,
  now = Date.now(),
): number {
  let bound = ttlMs;
  for (const entry of sources ?? []) {
    if (entry.error || entry.stale || !entry.fetchedAt) return 0;
    const freshFor = sourceTtlMs[entry.source] ?? 0;
    bound = Math.min(bound, Date.parse(entry.fetchedAt) + freshFor - now);
  }
  return Math.max(0, Math.floor(bound));
}
