/**
 * The per-request GraphQL context: the database, DataLoaders (fresh per request, so batching
 * and caching never cross requests), and the viewer.
 */
import type { Access } from './access/index.js';
import type { Viewer } from './auth.js';
import type { Database } from './db/client.js';
import { Loaders } from './loaders.js';
import type { QueryLimits } from './operation-limits.js';
import type { EventHub } from './pubsub/hub.js';
import { forRequest, noSources, type RequestSources, type Sources } from './sources/index.js';

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
  loaders: Loaders<Context>;
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
