/**
 * The per-request GraphQL context: the database, DataLoaders (fresh per request, so batching
 * and caching never cross requests), and the viewer.
 */
import type { Access } from './access/index.js';
import type { ApiKeyLimitSettings } from './db/api-keys.js';
import type { Database } from './db/client.js';
import type { ApiKeyScope } from './db/schema.js';
import { Loaders } from './loaders.js';
import type { EventHub } from './pubsub/hub.js';
import { forRequest, noSources, type RequestSources, type Sources } from './sources/index.js';

/**
 * Who is calling: anonymous (no `Authorization` header; reads are open), or the API key the
 * request presented (see `authenticate` in auth.ts), with its row id, name, scopes and own
 * limits (null: the configured default).
 */
export type Viewer =
  | { kind: 'anonymous' }
  | {
      kind: 'apiKey';
      id: number;
      name: string;
      scopes: ApiKeyScope[];
      limits: ApiKeyLimitSettings;
    };

/** Per-operation limits (see the README's configuration table). */
export interface QueryLimits {
  /** Deepest field nesting allowed. */
  maxDepth: number;
  /** Aliases allowed in one operation. */
  maxAliases: number;
  /** Cost budget: each field costs 1, connections multiply their selection by their page size. */
  maxCost: number;
  /** Lexical tokens allowed in one document. */
  maxTokens: number;
  /** Fields of a document answering one response path (`ShapeLimits` in document-shape.ts). */
  maxFieldRepeats: number;
  /** Fragment spreads in one document. */
  maxFragmentSpreads: number;
  /** Fields of a document with its fragment spreads expanded. */
  maxSelections: number;
  /**
   * Largest response, in bytes of JSON: a larger one is refused with `RESPONSE_TOO_LARGE`
   * (each event of a stream judged alone; see `src/response-size.ts`).
   */
  maxResponseBytes: number;
}

/** What every resolver receives as its third argument. */
export interface Context {
  /**
   * The database this operation reads and writes: the primary, or, for a query or a
   * subscription event when read replicas are configured, the replica chosen for it
   * (`src/replica-routing.ts`).
   */
  db: Database;
  limits: QueryLimits;
  /** This request's DataLoaders (see `defineLoader`). */
  loaders: Loaders;
  /** External sources: per-request DataLoaders over the shared clients, and provenance. */
  sources: RequestSources;
  viewer: Viewer;
  /** This instance's event hub: subscriptions register here. */
  events: EventHub;
  /** Partner access: limits and usage of callers (see `Query.viewer`). */
  access?: Access;
  /** Who the limits count this request against (an API key, or a client address). */
  subject?: string;
  /**
   * The `Last-Event-ID` of an SSE subscription request (an `EventSource` reconnecting): the
   * subscription resumes after it as with `after:`, and it wins over `after:` (the browser
   * repeats the URL it first opened, whose `after:` is older). Unset otherwise.
   */
  lastEventId?: string;
}

/** What a context is built from: long-lived parts of the app, plus who is calling. */
export interface ContextParts {
  db: Database;
  limits: QueryLimits;
  events: EventHub;
  /** The shared source clients (default: every source off). */
  sources?: Sources;
  /** Who `authenticate` said is calling (default: anonymous). */
  viewer?: Viewer;
  /** Partner access: limits and usage (see `Query.viewer`). */
  access?: Access;
  /** Who the limits count this request against. */
  subject?: string;
  /** See `Context.lastEventId`. */
  lastEventId?: string | undefined;
}

/** Builds a fresh context for one request (or one subscription event stream). */
export function createContext(parts: ContextParts): Context {
  const context: Context = {
    db: parts.db,
    limits: parts.limits,
    events: parts.events,
    sources: forRequest(parts.sources ?? noSources()),
    viewer: parts.viewer ?? { kind: 'anonymous' },
    ...(parts.access ? { access: parts.access } : {}),
    ...(parts.subject ? { subject: parts.subject } : {}),
    ...(parts.lastEventId !== undefined ? { lastEventId: parts.lastEventId } : {}),
    loaders: new Loaders(() => context),
  };
  return context;
}
