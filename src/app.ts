/**
 * Builds the chipgate yoga app from injected dependencies. No port, no process state: tests
 * call `app.yoga.fetch(...)` directly, `server.ts` mounts it on `node:http`.
 */
import { useDeferStream } from '@graphql-yoga/plugin-defer-stream';
import { type ExecutionArgs, execute } from 'graphql';
import { createYoga, type Plugin, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import { Access, type AccessOptions } from './access/index.js';
import { useIntrospectionControl } from './access/introspection.js';
import {
  accessContext,
  admitRequest,
  usePartnerAccess,
  useTrustedDocuments,
} from './access/plugin.js';
import { admissionPlugins } from './admission.js';
import { type Context, createContext } from './context.js';
import { databaseErrorReason, isDatabaseUnavailable } from './db/availability.js';
import type { Database } from './db/client.js';
import type { ReadReplicas } from './db/replicas.js';
import { accessConfigOf, loadEnv } from './env.js';
import { useGraphiQLPage } from './graphiql.js';
import { useHttpEdges } from './http.js';
import { useIncrementalLimits } from './incremental.js';
import { Heartbeat } from './live/heartbeat.js';
import { lastEventIdOf, useEventStream } from './live/sse.js';
import { maskError } from './mask-error.js';
import { type Metrics, useMetricsEndpoint } from './metrics.js';
import type { QueryLimits } from './operation-limits.js';
import { operationLimitError } from './operation-limits.js';
import { createPlanner } from './plan/execute.js';
import type { EventHub } from './pubsub/hub.js';
import { useSharedSubscriptionExecution } from './pubsub/shared-execution.js';
import { CONSISTENCY_TOKEN_HEADER, routeEvent, useReplicaRouting } from './replica-routing.js';
import { useRequestLog } from './request-log.js';
import type { ResponseCache } from './response-cache.js';
import { useResponseSizeLimit } from './response-size.js';
import { schema } from './schema/index.js';
import { type Sources, useSourceProvenance } from './sources/index.js';
import { STORY_QUERY } from './story.js';
import { useRequestTracing } from './tracing.js';

/** What `createApp` needs. */
export interface AppDependencies {
  db: Database;
  /** The instance's event hub (LISTEN/NOTIFY fan-out) that subscriptions read from. */
  events: EventHub;
  /** Resolves when the database answers; used by `GET /ready`. */
  ping: () => Promise<void>;
  /**
   * `CHIPGATE_DATABASE_TIMEOUT_MS`: how long a subscription event whose read failed because
   * the database was away is retried before its subscription ends (default 5000).
   */
  databaseTimeoutMs?: number;
  limits: QueryLimits;
  /** Origins allowed to call the API from a browser; empty = same-origin only. */
  corsOrigins: string[];
  /** Serve GraphiQL at `GET /graphql` for browsers. */
  graphiql: boolean;
  /** Logger for yoga and for masked (unexpected) errors. */
  logger?: AppLogger;
  /**
   * The external sources (built once by `createSources`); without them every external field
   * answers `SOURCE_NOT_CONFIGURED`.
   */
  sources?: Sources;
  /** Largest request body accepted, in bytes (default `MAX_REQUEST_BODY_BYTES`); larger gets 413. */
  maxRequestBodyBytes?: number;
  /**
   * `on` (default): reads run through the operation planner (one planned SQL statement per
   * root field, cached per document). `off`: every field goes through its resolver, as plain
   * graphql-js execution of the schema; kept to compare the two paths.
   */
  planner?: 'on' | 'off';
  /**
   * Told, with the planner's reason, whenever an operation is answered by the resolvers
   * instead of a plan (planner `on` only; also logged at debug level). Tests count it.
   */
  onUnplanned?: (reason: string) => void;
  /**
   * Prometheus metrics (`createMetrics`): GraphQL phases, requests, subscriptions, cache; served
   * at `GET /metrics` to keys with the `metrics` scope. Without them no metric is kept.
   */
  metrics?: Metrics;
  /**
   * The response cache for reads (`createResponseCache`); evicted by the event hub's change
   * feed. Without it every read is executed.
   */
  responseCache?: ResponseCache;
  /**
   * Live delivery: the instance's keep-alive timer (shared with the WebSocket transport;
   * default: a new one beating every 12 s) and the bound of unsent bytes per SSE subscriber
   * (`CHIPGATE_SSE_MAX_BUFFERED_BYTES`, default 262,144) past which it is dropped.
   */
  live?: { heartbeat?: Heartbeat; maxBufferedBytes?: number };
  /**
   * Partner access: limit settings (default: the configuration's defaults), Redis for shared
   * counters, a clock, and `onRefused`, told about every request refused by a limit.
   */
  access?: Partial<Omit<AccessOptions, 'db'>>;
  /**
   * Read replicas (`CHIPGATE_READ_REPLICA_URLS`, see `src/replica-routing.ts`): queries and
   * subscription events read there, `db` stays the primary. Without them everything reads `db`.
   */
  replicas?: ReadReplicas;
}

/** The path of the GraphQL endpoint (and of the GraphiQL page). */
const GRAPHQL_ENDPOINT = '/graphql';

/** Default request body limit: 1 MiB, far above any real query (the token limit is 5000). */
export const MAX_REQUEST_BODY_BYTES = 1_048_576;

/** The logger shape yoga uses (pino satisfies it). */
export interface AppLogger {
  debug: (...args: unknown[]) => void;
  info: (...args: unknown[]) => void;
  warn: (...args: unknown[]) => void;
  error: (...args: unknown[]) => void;
}

/** The built app. */
export interface App {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  /** Partner access state: limit counters, usage (flush it on shutdown), trusted documents. */
  access: Access;
}

const silentLogger: AppLogger = { debug() {}, info() {}, warn() {}, error() {} };

export type { QueryLimits };

/**
 * Refuses an operation over the depth or cost limit, or with a page size or cursor the
 * contract refuses, before it executes: a query or mutation gets the error and no data; a
 * subscription is refused when it subscribes (then it completes).
 */
function useOperationLimits(): Plugin<Context> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = operationLimitError(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = operationLimitError(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}

/** Creates the yoga app: schema, context per request, limits, error masking, CORS, health. */
export function createApp(deps: AppDependencies): App {
  const logger = deps.logger ?? silentLogger;
  const planner =
    (deps.planner ?? 'on') === 'on'
      ? createPlanner({
          schema,
          onUnplanned: (reason) => {
            logger.debug({ reason }, 'operation answered by resolvers');
            deps.onUnplanned?.(reason);
          },
        })
      : undefined;
  const { responseCache, replicas } = deps;
  const runEvent = planner?.execute ?? execute;
  // A subscription event is read where its own position has been replayed (replica-routing.ts).
  const eventExecute = replicas
    ? async (args: ExecutionArgs) => {
        await routeEvent(replicas, deps.db, args.contextValue as Context, args.rootValue);
        return runEvent(args);
      }
    : planner?.execute;
  if (responseCache) deps.events.onChange((change) => void responseCache.onChange(change));
  // With the cache, reads after an eviction need a replica that has the change (replicas.ts).
  if (responseCache && replicas) deps.events.onChange(() => replicas.raiseFloor());
  const access = new Access({
    logger,
    ...deps.access,
    db: deps.db,
    config: deps.access?.config ?? accessConfigOf(loadEnv({})),
  });
  // A key revoked or changed anywhere reaches what it holds open here.
  deps.events.onChange((change) => access.sessions.onChange(change));
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    healthCheckEndpoint: '/health',
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug(...args),
      info: (...args) => logger.info(...args),
      warn: (...args) => logger.warn(...args),
      // yoga logs the original of every masked error here; add the database's own error,
      // which drizzle keeps as `cause` (its message only says "Failed query").
      error: (error: unknown, ...rest: unknown[]) => {
        // An unreachable database is an operational condition, not a bug: one short line
        // (drizzle's message would carry the statement and its parameters).
        if (isDatabaseUnavailable(error)) {
          logger.warn(
            { code: 'DATABASE_UNAVAILABLE', reason: databaseErrorReason(error) },
            'database unavailable: answered 503',
          );
          return;
        }
        const cause = (error as { originalError?: { cause?: unknown }; cause?: unknown } | null)
          ?.originalError?.cause;
        if (error instanceof Error) logger.error({ err: error, cause }, 'unexpected error');
        else logger.error(error, ...rest);
      },
    },
    // A bad key fails the whole request with UNAUTHENTICATED (401), even for a read.
    // Over WebSocket there is no per-operation request: the key comes in the connection's
    // `connection_init` payload (`connectionParams.authorization`), see src/ws.ts.
    // HTTP requests were authenticated and counted as they arrived (`usePartnerAccess`).
    context: async (initial) =>
      createContext({
        db: deps.db,
        limits: deps.limits,
        events: deps.events,
        ...(deps.sources ? { sources: deps.sources } : {}),
        ...(await accessContext(access, deps.db, initial)),
        lastEventId: lastEventIdOf((initial as { request?: Request }).request),
      }),
    maskedErrors: {
      maskError,
    },
    // Only a configured origin gets CORS headers; any other gets none (yoga would answer a
    // single configured origin to everyone, and `null` to strangers when several are configured,
    // which sandboxed iframes match).
    cors:
      deps.corsOrigins.length > 0
        ? (request) => {
            const origin = request.headers.get('origin');
            if (!origin || !deps.corsOrigins.includes(origin)) return false;
            return {
              origin: [origin],
              methods: ['GET', 'POST', 'OPTIONS'],
              allowedHeaders: ['content-type', 'authorization', 'accept', CONSISTENCY_TOKEN_HEADER],
              exposedHeaders: [CONSISTENCY_TOKEN_HEADER],
              credentials: false,
              maxAge: 600,
            };
          }
        : false,
    // No uploads in this API; JSON only (see `useHttpEdges`).
    multipart: false,
    maxRequestBodySize: deps.maxRequestBodyBytes ?? MAX_REQUEST_BODY_BYTES,
    // Served by `useGraphiQLPage` below: counted and compressed, which yoga's own is not.
    graphiql: false,
    plugins: [
      // First, so its response (HTTP 422 in place of an answer over the cap) is the one the
      // request log, the metrics and the rate-limit headers see.
      useResponseSizeLimit(deps.limits.maxResponseBytes),
      useRequestTracing(),
      useRequestLog(logger, deps.metrics?.requestFinished),
      ...(deps.metrics
        ? [useMetricsEndpoint(deps.metrics.registry, deps.db), ...deps.metrics.plugins()]
        : []),
      useHttpEdges(deps.corsOrigins),
      // `@defer` and `@stream` (the 2022 incremental format): multipart/mixed, or SSE events.
      useDeferStream(),
      useIncrementalLimits(),
      ...(deps.graphiql
        ? [
            useGraphiQLPage({
              endpoint: GRAPHQL_ENDPOINT,
              graphiql: {
                title: 'chipgate: the AI-chip export story',
                defaultQuery: STORY_QUERY,
                shouldPersistHeaders: false,
              },
              admit: (request, serverContext) =>
                admitRequest(access, deps.db, request, serverContext),
            }),
          ]
        : []),
      ...useTrustedDocuments(access),
      useIntrospectionControl(access),
      ...admissionPlugins(deps.limits),
      useOperationLimits(),
      // After the operation limits: an operation they refuse is not charged.
      usePartnerAccess(access, deps.db),
      ...(planner ? [planner.plugin()] : []),
      useSharedSubscriptionExecution(eventExecute, deps.databaseTimeoutMs),
      useSourceProvenance(),
      // After the HTTP checks (variables) and the source provenance (it bounds a result's TTL).
      ...(deps.responseCache ? deps.responseCache.plugins(() => deps.events.fence()) : []),
      // After the cache (a hit reads nothing) and the planner (whose execute it wraps).
      useReplicaRouting(replicas, deps.db),
      // Subscription streams over SSE (after every plugin that may replace the result).
      useEventStream({
        heartbeat: deps.live?.heartbeat ?? new Heartbeat(12_000),
        maxResponseBytes: deps.limits.maxResponseBytes,
        maxBufferedBytes: deps.live?.maxBufferedBytes ?? 262_144,
        onDrop: (bytes) => {
          deps.metrics?.subscriberDropped('sse');
          logger.debug({ bufferedBytes: bytes }, 'slow SSE subscriber dropped');
        },
        onError: (error) => logger.error({ err: error }, 'SSE stream failed'),
      }),
      useReadinessCheck({
        endpoint: '/ready',
        check: async () => {
          try {
            await deps.ping();
            return true;
          } catch (error) {
            logger.warn({ err: error }, 'readiness check failed: database unreachable');
            return false;
          }
        },
      }),
    ],
  });
  return { yoga, access };
}
