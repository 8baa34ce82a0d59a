/**
 * Process entry: configuration -> database (migrated, and seeded when empty and embedded) ->
 * app -> listen -> clean shutdown on SIGINT/SIGTERM. The only module with process-wide state.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'drizzle-orm';
import pino from 'pino';
import { brokenDocuments, operationNameOf } from './access/documents.js';
import type { Access } from './access/index.js';
import { createApp } from './app.js';
import { type DatabaseHandle, openDatabase } from './db/client.js';
import { DirectoryLockedError } from './db/lock.js';
import { isEmpty, runMigrations } from './db/migrate.js';
import type { OpenedPglite } from './db/pglite-open.js';
import { PoolerSetupError, type Pooling } from './db/pooler.js';
import { ReadReplicas } from './db/replicas.js';
import { seed } from './db/seed.js';
import {
  accessConfigOf,
  ConfigError,
  type Env,
  loadEnv,
  queryLimitsOf,
  responseCacheOptionsOf,
  sourcesConfigOf,
} from './env.js';
import { Heartbeat } from './live/heartbeat.js';
import { createMetrics, type Metrics, scrape } from './metrics.js';
import { EventHub } from './pubsub/hub.js';
import { SharedRedis } from './redis.js';
import { createResponseCache } from './response-cache.js';
import { schema } from './schema/index.js';
import { createSources } from './sources/index.js';
import { startScheduledSync } from './sync/index.js';
import type { SyncScheduler } from './sync/scheduler.js';
import { attachWebSocket } from './ws.js';

/** A running gateway. */
export interface RunningGateway {
  url: string;
  db: DatabaseHandle;
  /** The instance's event hub (subscriber counts, LISTEN state). */
  events: EventHub;
  /** Open WebSocket connections. */
  webSocketConnections: () => number;
  /** The instance's Prometheus metrics. */
  metrics: Metrics;
  /** `http://host:port/metrics` of the separate metrics port, when `CHIPGATE_METRICS_PORT` is set. */
  metricsUrl: string | undefined;
  /** Partner access state (limit counters, subscription slots, usage). */
  access: Access;
  /** Stops accepting, waits for requests in flight (up to the shutdown timeout), closes the DB. */
  stop: () => Promise<void>;
}

/** What a caller in the same process (tests) may add to a gateway. */
export interface GatewayHooks {
  /** Sees every SQL statement the gateway sends (drizzle's logger), e.g. a statement counter. */
  statementLogger?: Logger;
  /** The embedded directory already being opened (`npm start`'s entry, src/start.ts). */
  opening?: Promise<OpenedPglite>;
}

/** Starts a gateway from parsed configuration; `hooks` see inside it (tests). */
export async function startGateway(
  env: Env,
  log = pino({ level: env.CHIPGATE_LOG_LEVEL }),
  hooks: GatewayHooks = {},
): Promise<RunningGateway> {
  const tracing = env.OTEL_EXPORTER_OTLP_ENDPOINT
    ? (await import('./tracing-sdk.js')).startTracing({
        endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
        serviceName: env.OTEL_SERVICE_NAME,
      })
    : undefined;
  const db = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    directUrl: env.CHIPGATE_DATABASE_DIRECT_URL,
    prepare: env.CHIPGATE_DATABASE_PREPARE,
    pgliteDir: env.CHIPGATE_PGLITE_DIR,
    pgliteSharedBuffers: env.CHIPGATE_PGLITE_SHARED_BUFFERS,
    poolMax: env.CHIPGATE_DB_POOL_MAX,
    timeoutMs: env.CHIPGATE_DATABASE_TIMEOUT_MS,
    ...(hooks.statementLogger ? { logger: hooks.statementLogger } : {}),
    // A new embedded directory starts as a copy of the migrated, seeded template.
    template: { store: env.CHIPGATE_PGLITE_TEMPLATE_DIR },
    ...(hooks.opening ? { opening: hooks.opening } : {}),
  });
  if (db.preparedBy && db.preparedBy !== 'existing') {
    const directory = path.resolve(env.CHIPGATE_PGLITE_DIR);
    log.info({ directory, by: db.preparedBy }, 'new PGlite directory from the template');
  }
  if (db.pooling) logPooling(db.pooling, log);
  try {
    await runMigrations(db);
    if (db.kind === 'pglite' && (await isEmpty(db))) {
      const seeded = await seed(db.db);
      log.info({ seeded }, 'seeded the empty embedded database');
    }
  } catch (error) {
    await db.close();
    throw error;
  }
  const metrics = createMetrics();
  metrics.watchPool(() => db.pool());
  if (db.pooling) metrics.databasePooling(db.pooling);
  // Read replicas: queries and subscription events read there (src/replica-routing.ts).
  let replicas: ReadReplicas | undefined;
  let events: EventHub;
  try {
    if (env.CHIPGATE_READ_REPLICA_URLS.length > 0) {
      replicas = await ReadReplicas.open({
        primary: db,
        urls: env.CHIPGATE_READ_REPLICA_URLS,
        waitMs: env.CHIPGATE_REPLICA_WAIT_MS,
        maxLagMs: env.CHIPGATE_REPLICA_MAX_LAG_MS,
        poolMax: env.CHIPGATE_DB_POOL_MAX,
        timeoutMs: env.CHIPGATE_DATABASE_TIMEOUT_MS,
        logger: log,
        observer: metrics.replicas,
      });
      const status = replicas.status();
      metrics.watchReplicas(() => replicas?.status() ?? []);
      log.info(
        { replicas: status.map(({ name, inRotation }) => ({ name, inRotation })) },
        'read replicas configured',
      );
    }
    const readReplicas = replicas;
    events = await EventHub.start(db, {
      maxQueue: env.CHIPGATE_SUBSCRIPTION_QUEUE_MAX,
      logger: log,
      observer: metrics.hub,
      ...(readReplicas ? { position: () => readReplicas.position() } : {}),
    });
  } catch (error) {
    await replicas?.close();
    await db.close();
    throw error;
  }

  await warnAboutBrokenDocuments(db, log);
  const sources = createSources(sourcesConfigOf(env), log, metrics.sources);
  for (const { source, reason } of sources.disabled) {
    log.warn({ source }, `source off: ${reason}`);
  }
  // Shared limits, slots, APQ and cache: without Redis (or while it is unavailable) each
  // instance keeps its own. Start-up waits for it a second at most.
  const redis = env.CHIPGATE_REDIS_URL
    ? await SharedRedis.connect({
        url: env.CHIPGATE_REDIS_URL,
        timeoutMs: env.CHIPGATE_REDIS_TIMEOUT_MS,
        logger: log,
        onStateChange: metrics.redisBreakerChanged,
      })
    : undefined;
  const responseCache = createResponseCache(schema, { ...responseCacheOptionsOf(env), redis });
  // One keep-alive timer for every SSE stream and WebSocket of this instance.
  const heartbeat = new Heartbeat(env.CHIPGATE_HEARTBEAT_MS);
  const { yoga, access } = createApp({
    db: db.db,
    events,
    sources,
    ping: () => db.ping(),
    databaseTimeoutMs: env.CHIPGATE_DATABASE_TIMEOUT_MS,
    corsOrigins: env.CHIPGATE_CORS_ORIGINS,
    graphiql: env.CHIPGATE_GRAPHIQL,
    planner: env.CHIPGATE_PLANNER,
    limits: queryLimitsOf(env),
    logger: log,
    metrics,
    ...(responseCache ? { responseCache } : {}),
    ...(replicas ? { replicas } : {}),
    access: { config: accessConfigOf(env), redis, onRefused: metrics.onRefused },
    live: { heartbeat, maxBufferedBytes: env.CHIPGATE_SSE_MAX_BUFFERED_BYTES },
  });
  access.usage.start(env.CHIPGATE_USAGE_FLUSH_S);

  // Responses not yet finished; when shutting down, they tell the client to close the connection.
  const inFlight = new Set<ServerResponse>();
  let drained: (() => void) | undefined;
  let stopping: Promise<void> | undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight.add(res);
    if (stopping) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight.delete(res);
      if (inFlight.size === 0) drained?.();
    });
    yoga(req, res);
  });
  // Slow or stuck clients cannot hold a socket forever.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(env.CHIPGATE_PORT, env.CHIPGATE_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    // Release the database (and its directory lock) for a caller that stays alive.
    try {
      await events.close();
      await access.close();
      await redis?.close();
      await yoga.dispose();
      await sources.close();
    } finally {
      await replicas?.close();
      await db.close();
    }
    throw error;
  }
  // Prometheus on its own port: no key needed there (keep the port private).
  let metricsServer: ReturnType<typeof createServer> | undefined;
  let metricsUrl: string | undefined;
  if (env.CHIPGATE_METRICS_PORT !== undefined) {
    metricsServer = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: GET /metrics\n');
        return;
      }
      scrape(metrics.registry).then(
        ({ body, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        (error: unknown) => {
          log.error({ err: error }, 'metrics scrape failed');
          res.writeHead(500).end();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      metricsServer?.once('error', reject);
      metricsServer?.listen(env.CHIPGATE_METRICS_PORT, env.CHIPGATE_HOST, () => resolve());
    }).catch(async (error: unknown) => {
      server.close();
      await events.close();
      await redis?.close();
      await yoga.dispose();
      await sources.close();
      await replicas?.close();
      await db.close();
      throw error;
    });
    const bound = metricsServer.address();
    const metricsPort = typeof bound === 'object' && bound ? bound.port : env.CHIPGATE_METRICS_PORT;
    const metricsHost = env.CHIPGATE_HOST.includes(':')
      ? `[${env.CHIPGATE_HOST}]`
      : env.CHIPGATE_HOST;
    metricsUrl = `http://${metricsHost}:${metricsPort}/metrics`;
  }
  // After listening: ws re-emits the HTTP server's errors (EADDRINUSE) as its own.
  const webSocket = attachWebSocket(server, yoga, {
    path: '/graphql',
    corsOrigins: env.CHIPGATE_CORS_ORIGINS,
    maxOperations: env.CHIPGATE_WS_MAX_OPERATIONS,
    maxResponseBytes: env.CHIPGATE_MAX_RESPONSE_BYTES,
    heartbeat,
    maxBufferedBytes: env.CHIPGATE_SSE_MAX_BUFFERED_BYTES,
    sessions: access.sessions,
    onDrop: () => metrics.subscriberDropped('websocket'),
    onError: (error) => log.error({ err: error }, 'websocket error'),
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : env.CHIPGATE_PORT;
  const host = env.CHIPGATE_HOST.includes(':') ? `[${env.CHIPGATE_HOST}]` : env.CHIPGATE_HOST;
  const url = `http://${host}:${port}/graphql`;

  let scheduledSync: SyncScheduler | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A sync run in progress stops at its next document (another instance retries it).
      await scheduledSync?.stop();
      // Subscriptions end with their transport's "complete" message (SSE streams then finish
      // like any response); WebSocket clients are then told the server is going away (1001).
      // The LISTEN connection is released here too.
      await events.close();
      await webSocket.close();
      // Keep-alive connections with a request in flight close after its response.
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      const idle = new Promise<void>((resolve) => {
        if (inFlight.size === 0) resolve();
        else drained = resolve;
      });
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(resolve, env.CHIPGATE_SHUTDOWN_TIMEOUT_MS, 'timeout').unref(),
      );
      if ((await Promise.race([idle, timeout])) === 'timeout') {
        log.warn(
          { inFlight: inFlight.size },
          'shutdown timeout: closing connections with requests in flight',
        );
      }
      server.closeAllConnections();
      await closed;
      if (metricsServer) {
        const metricsClosed = new Promise<void>((resolve) => metricsServer?.close(() => resolve()));
        metricsServer.closeAllConnections();
        await metricsClosed;
      }
      // Usage counted since the last flush is stored before the database closes.
      await access.close();
      await redis?.close();
      await yoga.dispose();
      await sources.close();
      await responseCache?.close();
      await replicas?.close();
      await db.close();
      await tracing?.shutdown();
    })();
    return stopping;
  };
  try {
    scheduledSync = await startScheduledSync(env, db, log, metrics.registry);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    db,
    events,
    webSocketConnections: () => webSocket.connections,
    metrics,
    metricsUrl,
    access,
    stop,
  };
}

/**
 * Says at start what the database probe found (see db/pooler.ts): where prepared statements and
 * JIT stand behind a pooler, and, loudly, when the LISTEN session goes through a pooler in
 * transaction mode (subscriptions, cache eviction and key changes would then miss events).
 */
function logPooling(pooling: Pooling, log: pino.Logger): void {
  const { prepared, pooled, jit, jitDefault, listenThroughPooler } = pooling;
  log.info({ prepared, pooled, jit }, 'database pool');
  if (listenThroughPooler) {
    log.warn(
      'the LISTEN session goes through a connection pooler in transaction mode: live updates ' +
        '(subscriptions, response-cache eviction, key changes) can be lost. Set ' +
        'CHIPGATE_DATABASE_DIRECT_URL to a direct PostgreSQL URL',
    );
  }
  if (jitDefault === 'set') {
    log.info(
      'the pooler refuses the jit startup parameter: set jit = off as the default of this role in this database (server connections the pooler opened before keep JIT until it replaces them)',
    );
  } else if (typeof jitDefault === 'object') {
    log.warn(
      { reason: jitDefault.failed },
      'the pooler refuses the jit startup parameter and jit = off could not be set for this role: run ALTER ROLE <role> SET jit = off (planned reads may spend long in JIT compilation)',
    );
  }
}

/** Logs every registered trusted document that no longer validates against this schema. */
async function warnAboutBrokenDocuments(db: DatabaseHandle, log: pino.Logger): Promise<void> {
  for (const { row, error } of await brokenDocuments(db.db, schema)) {
    log.warn(
      {
        hash: row.hash,
        apiKeyId: row.apiKeyId,
        operation: operationNameOf(row.document),
        error,
      },
      'a registered trusted document no longer validates: requests with its id will fail',
    );
  }
}

/**
 * The process: configuration, start-up, signals, exit codes. `opening`: the embedded directory
 * src/start.ts began opening while this module loaded.
 */
export async function main(opening?: Promise<OpenedPglite>) {
  let env: Env;
  try {
    env = loadEnv();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`chipgate: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  // Synchronous: the last lines ("stopped cleanly", a fatal start-up error) are written before
  // process.exit() below; pino's default asynchronous stdout could lose them.
  const log = pino({ level: env.CHIPGATE_LOG_LEVEL }, pino.destination({ dest: 1, sync: true }));
  let gateway: RunningGateway | undefined;
  let signals = 0;
  const stopAndExit = (running: RunningGateway) => {
    running.stop().then(
      () => {
        log.info('stopped cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  const shutdown = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn('second signal: exiting now');
      process.exit(130);
    }
    log.info({ signal }, 'shutting down');
    // During start-up: stop as soon as the gateway is up (below), not halfway through a migration.
    if (gateway) stopAndExit(gateway);
  };
  // Before start-up, so a signal at any time after the process started is handled (a supervisor
  // may send SIGTERM the moment it sees the listening line).
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  try {
    gateway = await startGateway(env, log, opening ? { opening } : {});
  } catch (error) {
    if (error instanceof DirectoryLockedError) {
      process.stderr.write(`chipgate: ${error.message}\n`);
      process.exit(1);
    }
    // The configuration does not fit the server it met: exit code 2, as for a bad value.
    if (error instanceof PoolerSetupError) {
      process.stderr.write(`chipgate: ${error.message}\n`);
      process.exit(2);
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      process.stderr.write(
        `chipgate: cannot listen on ${env.CHIPGATE_HOST}:${env.CHIPGATE_PORT} (${code}); set CHIPGATE_PORT to a free port.\n`,
      );
      process.exit(1);
    }
    log.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
  if (signals > 0) {
    stopAndExit(gateway);
    return;
  }
  log.info(
    { url: gateway.url, database: gateway.db.description },
    `chipgate listening: open ${gateway.url}`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await main();
}
