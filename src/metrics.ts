/**
 * Prometheus metrics (prom-client), one registry per app: yoga's Prometheus plugin for the
 * GraphQL phases, chipgate's own series for requests, sources, subscriptions, events, the
 * database pool, the response cache and rate-limit refusals, and Node's default process metrics.
 * Exposed at `GET /metrics` (see `useMetricsEndpoint` and the separate metrics port in
 * server.ts); never a key, a document or a variable value in a label.
 */
import {
  createCounter,
  createHistogram,
  type FillLabelsFnParams,
  usePrometheus,
} from '@graphql-yoga/plugin-prometheus';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { authenticate } from './auth.js';
import { BREAKER_STATES, type BreakerState } from './breaker.js';
import type { Database } from './db/client.js';
import type { Pooling } from './db/pooler.js';
import type { ReplicaObserver, ReplicaStatus } from './db/replicas.js';
import type { PoolStats } from './db/statements.js';
import type { HubObserver } from './pubsub/hub.js';
import { createReplicaMetrics } from './replica-metrics.js';
import type { SourceObserver } from './sources/http.js';

/** A refusal by the rate limiter (wired to the limiter's `onRefused` observer). */
export interface RateLimitRefusal {
  /** The API key's row id (never the key); null for anonymous callers. */
  keyId: number | string | null;
  /** Which limit: `REQUESTS`, `COST` or `SUBSCRIPTIONS`. */
  reason: string;
}

/** How one request ended, for the request histogram and the error counter. */
export interface RequestOutcome {
  /** The operation's name, `anonymous` for unnamed ones, `-` when there was none. */
  operation: string;
  /** `ok` (no errors), `partial` (data and errors), `error` (no data) or `refused` (4xx/5xx). */
  outcome: string;
  seconds: number;
  /** `extensions.code` of every error of the response. */
  errorCodes: readonly string[];
}

/** The metrics of one app. */
export interface Metrics {
  registry: Registry;
  /** For `createSources`: calls, latency, retries, breaker state, stale answers per source. */
  sources: SourceObserver;
  /** For `EventHub.start`: deliveries, commit-to-delivery lag, LISTEN reconnects. */
  hub: HubObserver;
  /** For `SharedRedis`: its circuit breaker changed state (`closed`: Redis in use). */
  redisBreakerChanged(state: BreakerState): void;
  /** Plugs the rate limiter's refusals in: counts them by key id and reason. */
  onRefused(refusal: RateLimitRefusal): void;
  /** Records one finished request (the request-log plugin calls it). */
  requestFinished(outcome: RequestOutcome): void;
  /** A subscriber that stopped reading was dropped (`SLOW_CONSUMER`), by transport. */
  subscriberDropped(transport: 'sse' | 'websocket'): void;
  /** Reports the database pool (connections in use, statements waiting) at each scrape. */
  watchPool(pool: () => PoolStats): void;
  /** Records what the start-up probe found behind `DATABASE_URL` (see db/pooler.ts). */
  databasePooling(pooling: Pick<Pooling, 'prepared' | 'listenThroughPooler'>): void;
  /** For `ReadReplicas.open`: reads routed per server, the token wait, statements per replica. */
  replicas: ReplicaObserver;
  /** Reports each read replica's lag and rotation (`ReadReplicas.status`) at each scrape. */
  watchReplicas(status: () => ReplicaStatus[]): void;
  /** yoga plugins: GraphQL phases, subscriptions per transport, response cache hits/misses. */
  plugins(): Plugin[];
}

/**
 * Distinct operation names a registry labels series with; later names share the label
 * `other`. Operation names come from clients, so without a bound every new name would add
 * series for as long as the process lives.
 */
export const MAX_OPERATION_LABELS = 200;
/** Longest operation name used as a label (longer ones are labelled `other`). */
const MAX_OPERATION_LABEL_LENGTH = 64;
const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/**
 * The label for an operation name: the name itself while fewer than `max` distinct names were
 * seen (and it is a GraphQL name of at most 64 characters), else `other`. `anonymous` and `-`
 * (no operation) are always their own label.
 */
export function boundedOperationLabels(max = MAX_OPERATION_LABELS): (name: string) => string {
  const seen = new Set<string>();
  return (name) => {
    if (name === 'anonymous' || name === '-' || seen.has(name)) return name;
    if (seen.size >= max || name.length > MAX_OPERATION_LABEL_LENGTH || !NAME.test(name)) {
      return 'other';
    }
    seen.add(name);
    return name;
  };
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Creates a registry with every chipgate metric and Node's default process metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Three of prom-client's gauges end in `_total`, which Prometheus reserves for counters
  // (promtool refuses them); the same figures stay as nodejs_active_handles, _requests, _resources.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ]) {
    registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const operationLabel = boundedOperationLabels();
  /** Operation labels in Prometheus' snake_case (the plugin's own are camelCase). */
  const operationLabels = (params: FillLabelsFnParams) => ({
    operation_name: operationLabel(params.operationName ?? 'anonymous'),
    operation_type: params.operationType ?? '',
  });

  const requestDuration = new Histogram({
    name: 'chipgate_request_duration_seconds',
    help: 'HTTP requests to the gateway by GraphQL operation name and outcome (ok, partial, error, refused).',
    labelNames: ['operation', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const errors = new Counter({
    name: 'chipgate_graphql_errors_total',
    help: 'Errors in responses, by extensions.code.',
    labelNames: ['code'],
    registers,
  });
  const sourceCalls = new Counter({
    name: 'chipgate_source_calls_total',
    help: 'Calls to external sources (after retries) by source and outcome (ok or the error code).',
    labelNames: ['source', 'outcome'],
    registers,
  });
  const sourceDuration = new Histogram({
    name: 'chipgate_source_call_duration_seconds',
    help: 'Duration of calls to external sources, retries and rate-limit waits included.',
    labelNames: ['source'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const sourceRetries = new Counter({
    name: 'chipgate_source_retries_total',
    help: 'Attempts at external sources that failed and were tried again.',
    labelNames: ['source'],
    registers,
  });
  const sourceStale = new Counter({
    name: 'chipgate_source_stale_answers_total',
    help: 'Expired cached values served because the source failed.',
    labelNames: ['source'],
    registers,
  });
  const breaker = new Gauge({
    name: 'chipgate_source_breaker_state',
    help: 'Circuit breaker state per source: 1 for the current state, 0 for the others.',
    labelNames: ['source', 'state'],
    registers,
  });
  const redisBreaker = new Gauge({
    name: 'chipgate_redis_breaker_state',
    help: 'Circuit breaker state of the Redis connection: 1 for the current state, 0 for the others (not closed: limits counted per instance, cache skipped).',
    labelNames: ['state'],
    registers,
  });
  const subscriptions = new Gauge({
    name: 'chipgate_subscriptions_open',
    help: 'Subscriptions open, by transport (sse, websocket).',
    labelNames: ['transport'],
    registers,
  });
  const delivered = new Counter({
    name: 'chipgate_events_delivered_total',
    help: 'Events delivered to subscribers (one per subscriber that received it).',
    registers,
  });
  const lag = new Histogram({
    name: 'chipgate_event_delivery_lag_seconds',
    help: "From the event's transaction to its delivery to this instance's subscribers.",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const reconnects = new Counter({
    name: 'chipgate_listen_reconnects_total',
    help: 'Times the LISTEN connection of the event feed was re-established after a loss.',
    registers,
  });
  const cacheRequests = new Counter({
    name: 'chipgate_response_cache_requests_total',
    help: 'Cacheable reads answered from the response cache (hit) or executed (miss).',
    labelNames: ['result'],
    registers,
  });
  const refusals = new Counter({
    name: 'chipgate_rate_limit_refusals_total',
    help: 'Requests refused by the rate limiter, by API key id (never the key) and reason.',
    labelNames: ['key_id', 'reason'],
    registers,
  });
  const dropped = new Counter({
    name: 'chipgate_subscribers_dropped_total',
    help:
      'Subscribers dropped because they stopped reading (their unsent bytes passed the bound), ' +
      'by transport (sse, websocket). Each got a SLOW_CONSUMER error to resume from.',
    labelNames: ['transport'],
    registers,
  });
  for (const result of ['hit', 'miss']) cacheRequests.inc({ result }, 0);
  for (const transport of ['sse', 'websocket']) dropped.inc({ transport }, 0);
  for (const transport of ['sse', 'websocket']) subscriptions.set({ transport }, 0);

  const preparedStatements = new Gauge({
    name: 'chipgate_db_prepared_statements',
    help: 'Whether the database pool uses named prepared statements (1) or not (0: CHIPGATE_DATABASE_PREPARE=off, or a pooler that drops them; the embedded database: 0).',
    registers,
  });
  const listenThroughPooler = new Gauge({
    name: 'chipgate_listen_through_pooler',
    help: 'The LISTEN session goes through a connection pooler in transaction mode (1): subscriptions, response-cache eviction and key changes can miss events; set CHIPGATE_DATABASE_DIRECT_URL. 0: a direct session.',
    registers,
  });
  listenThroughPooler.set(0);

  let pool: (() => PoolStats) | undefined;
  new Gauge({
    name: 'chipgate_db_pool_connections_in_use',
    help: 'Database connections busy with a statement or a transaction.',
    registers,
    collect() {
      this.set(pool?.().inUse ?? 0);
    },
  });
  new Gauge({
    name: 'chipgate_db_pool_waiting',
    help: 'Statements and transactions waiting for a database connection.',
    registers,
    collect() {
      this.set(pool?.().waiting ?? 0);
    },
  });
  const replicas = createReplicaMetrics(registers);

  return {
    registry,
    replicas: replicas.observer,
    watchReplicas: replicas.watch,
    sources: {
      called(source, outcome, seconds) {
        sourceCalls.inc({ source, outcome });
        sourceDuration.observe({ source }, seconds);
      },
      retried: (source) => sourceRetries.inc({ source }),
      servedStale: (source) => sourceStale.inc({ source }),
      breakerChanged(source, state) {
        for (const each of BREAKER_STATES)
          breaker.set({ source, state: each }, each === state ? 1 : 0);
      },
    },
    hub: {
      delivered(subscribers, committedAt) {
        if (subscribers > 0) delivered.inc(subscribers);
        if (subscribers > 0 && committedAt !== undefined) {
          lag.observe(Math.max(0, Date.now() / 1000 - committedAt));
        }
      },
      reconnected: () => reconnects.inc(),
    },
    redisBreakerChanged(state) {
      for (const each of BREAKER_STATES) redisBreaker.set({ state: each }, each === state ? 1 : 0);
    },
    subscriberDropped: (transport) => dropped.inc({ transport }),
    onRefused({ keyId, reason }) {
      refusals.inc({ key_id: keyId === null ? 'anonymous' : String(keyId), reason });
    },
    requestFinished({ operation, outcome, seconds, errorCodes }) {
      requestDuration.observe({ operation: operationLabel(operation), outcome }, seconds);
      for (const code of errorCodes) errors.inc({ code });
    },
    watchPool(stats) {
      pool = stats;
    },
    databasePooling(pooling) {
      preparedStatements.set(pooling.prepared ? 1 : 0);
      listenThroughPooler.set(pooling.listenThroughPooler ? 1 : 0);
    },
    plugins() {
      return [
        usePrometheus({
          registry,
          endpoint: false,
          skipIntrospection: true,
          metrics: {
            graphql_envelop_request_duration: phaseHistogram(
              registry,
              'graphql_envelop_request_duration',
              'Time to run a GraphQL operation (execute or subscribe phase), by operation.',
              operationLabels,
            ),
            graphql_envelop_phase_parse: phaseHistogram(
              registry,
              'graphql_envelop_phase_parse',
              'Time to parse GraphQL documents.',
              operationLabels,
            ),
            graphql_envelop_phase_validate: phaseHistogram(
              registry,
              'graphql_envelop_phase_validate',
              'Time to validate GraphQL documents.',
              operationLabels,
            ),
            graphql_envelop_phase_context: phaseHistogram(
              registry,
              'graphql_envelop_phase_context',
              'Time to build the context (API key lookup) of GraphQL operations.',
              operationLabels,
            ),
            graphql_envelop_phase_execute: phaseHistogram(
              registry,
              'graphql_envelop_phase_execute',
              'Time to execute GraphQL queries and mutations.',
              operationLabels,
            ),
            graphql_envelop_phase_subscribe: phaseHistogram(
              registry,
              'graphql_envelop_phase_subscribe',
              'Time to set up GraphQL subscriptions.',
              operationLabels,
            ),
            graphql_envelop_request: createCounter({
              registry,
              counter: {
                name: 'graphql_envelop_request_total',
                help: 'GraphQL operations run, by operation.',
                labelNames: ['operation_name', 'operation_type'],
              },
              fillLabelsFn: operationLabels,
            }),
            graphql_envelop_error_result: createCounter({
              registry,
              counter: {
                name: 'graphql_envelop_error_result_total',
                help: 'GraphQL operations that failed, by operation and phase.',
                labelNames: ['operation_name', 'operation_type', 'phase'],
              },
              fillLabelsFn: (params) => ({
                ...operationLabels(params),
                phase: params.errorPhase ?? '',
              }),
            }),
            graphql_envelop_request_time_summary: false,
            graphql_envelop_deprecated_field: false,
            graphql_envelop_schema_change: false,
            graphql_yoga_http_duration: false,
          },
        }),
        useSubscriptionGauge(subscriptions),
        {
          // Hits are answered before execution, so they are counted on the way out.
          onResultProcess({ result }) {
            if (Array.isArray(result) || isAsyncIterable(result)) return;
            const cache = (result as { extensions?: { responseCache?: { hit?: boolean } } })
              .extensions?.responseCache;
            if (cache) cacheRequests.inc({ result: cache.hit ? 'hit' : 'miss' });
          },
        } as Plugin,
      ];
    },
  };
}

/** A phase histogram of yoga's Prometheus plugin, with snake_case labels. */
function phaseHistogram<Phases>(
  registry: Registry,
  name: string,
  help: string,
  operationLabels: (
    params: FillLabelsFnParams,
  ) => Record<'operation_name' | 'operation_type', string>,
) {
  return createHistogram<Phases, 'operation_name' | 'operation_type'>({
    registry,
    histogram: {
      name,
      help,
      labelNames: ['operation_name', 'operation_type'],
      buckets: LATENCY_BUCKETS,
    },
    fillLabelsFn: operationLabels,
  });
}

/** Counts open subscriptions by transport: WebSocket operations carry the socket in context. */
function useSubscriptionGauge(gauge: Gauge<'transport'>): Plugin {
  return {
    onSubscribe({ args }) {
      const transport = 'socket' in (args.contextValue as object) ? 'websocket' : 'sse';
      return {
        onSubscribeResult({ result }) {
          if (!isAsyncIterable(result)) return;
          gauge.inc({ transport });
          let ended = false;
          return {
            onEnd() {
              if (ended) return;
              ended = true;
              gauge.dec({ transport });
            },
          };
        },
      };
    },
  } as Plugin;
}

/** The scrape: the registry's exposition with Prometheus' content type. */
export async function scrape(registry: Registry): Promise<{ body: string; contentType: string }> {
  return { body: await registry.metrics(), contentType: registry.contentType };
}

/**
 * `GET /metrics` on the main port, for API keys with the `metrics` scope only: no key is 401,
 * a key without the scope 403 (a separate metrics port, `CHIPGATE_METRICS_PORT`, needs no key).
 */
export function useMetricsEndpoint(registry: Registry, db: Database): Plugin {
  return {
    async onRequest({ request, url, fetchAPI, endResponse }) {
      if (url.pathname !== '/metrics') return;
      const refuse = (status: number, code: string, message: string) =>
        endResponse(
          new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
            status,
            headers: { 'content-type': 'application/json; charset=utf-8' },
          }),
        );
      let viewer: Awaited<ReturnType<typeof authenticate>>;
      try {
        viewer = await authenticate(db, request.headers.get('authorization'));
      } catch {
        return refuse(401, 'UNAUTHENTICATED', 'The API key is malformed, unknown or revoked.');
      }
      if (viewer.kind !== 'apiKey') {
        return refuse(
          401,
          'UNAUTHENTICATED',
          'GET /metrics needs an API key with the metrics scope.',
        );
      }
      if (!viewer.scopes.includes('metrics')) {
        return refuse(403, 'FORBIDDEN', 'This API key lacks the metrics scope.');
      }
      const { body, contentType } = await scrape(registry);
      endResponse(new fetchAPI.Response(body, { headers: { 'content-type': contentType } }));
    },
  } as Plugin;
}
