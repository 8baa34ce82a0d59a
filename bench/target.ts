/**
 * A benchmark target process, forked by `run.ts`: either the real gateway (`createApp` from
 * `src/app.ts` on `node:http`, as `src/server.ts` mounts it, with the planner off for the old
 * path and on for the planned path) or the raw-SQL floor (a bare `node:http` handler running
 * each workload's floor statement). It listens on 127.0.0.1 (a free port), reports its
 * URL, and measures itself on request: CPU time, RSS, responses and SQL statements, so the
 * figures never include the load generator running in the driver process.
 *
 * Usage (by the driver only): `node --import tsx bench/target.ts '<TargetOptions as JSON>'`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'drizzle-orm';
import pino from 'pino';
import postgres from 'postgres';
import { createApp } from '../src/app.js';
import { openDatabase, postgresOptions, wrapPglite } from '../src/db/client.js';
import { accessConfigOf, loadEnv, queryLimitsOf } from '../src/env.js';
import { createMetrics } from '../src/metrics.js';
import { EventHub } from '../src/pubsub/hub.js';
import { createResponseCache } from '../src/response-cache.js';
import { schema } from '../src/schema/index.js';
import { answerOnFloor, type FloorClient, FloorRequestError } from './floor.js';
import type { DriverMessage, Measurement, TargetMessage, TargetOptions } from './protocol.js';

/** Counters of the current measurement window. */
class Meter {
  requests = 0;
  statements = 0;
  private startedAt = 0;
  private cpu = process.cpuUsage();
  private peakRss = 0;
  private sampler: NodeJS.Timeout | undefined;

  start(): void {
    this.requests = 0;
    this.statements = 0;
    this.peakRss = process.memoryUsage.rss();
    this.sampler = setInterval(() => {
      this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
    }, 20);
    this.startedAt = performance.now();
    this.cpu = process.cpuUsage();
  }

  stop(): Measurement {
    const cpu = process.cpuUsage(this.cpu);
    const elapsedMs = performance.now() - this.startedAt;
    clearInterval(this.sampler);
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
    return {
      requests: this.requests,
      statements: this.statements,
      cpuUserMicros: cpu.user,
      cpuSystemMicros: cpu.system,
      elapsedMs,
      windowPeakRssBytes: this.peakRss,
      // ru_maxrss is in kilobytes on Linux.
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  }
}

/** Serves one request; settles when the work for it is done (even if the client left). */
type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** A running HTTP target and how to release what it holds. */
interface RunningTarget {
  server: Server;
  /**
   * Resolves once no request is being served and none arrived for `QUIET_MS` (or after
   * `timeoutMs`).
   */
  settled(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

const meter = new Meter();

/** How long a measurement boundary waits for requests in flight to finish. */
const DRAIN_TIMEOUT_MS = 30_000;

/**
 * How long the server must have seen no new request before a window opens or closes. A load
 * run ends by closing its connections with requests still in them; requests already sent but
 * not yet read (the server is busy) arrive after that, and must not leak into the next window.
 */
const QUIET_MS = 300;

/** drizzle's logger hook: one call per SQL statement sent. */
const statementCounter: Logger = {
  logQuery() {
    meter.statements += 1;
  },
};

function send(message: TargetMessage): void {
  process.send?.(message);
}

async function loadPglite(options: TargetOptions): Promise<PGlite> {
  if (!options.pgliteDump) throw new Error('target: backend pglite needs pgliteDump');
  const dump = new Blob([readFileSync(options.pgliteDump)]);
  const client = await PGlite.create({ loadDataDir: dump });
  await client.exec(`SET TIME ZONE 'UTC'`);
  return client;
}

/**
 * The gateway as `src/server.ts` builds it (`createApp` with the default configuration and a
 * pino logger; `planner` off for the old path, on for the planned one), plus a
 * statement-counting drizzle logger on the database. `options.ops` adds metrics, the tracing
 * SDK and the response cache the way `src/server.ts` does.
 */
async function startGatewayHandler(
  options: TargetOptions,
): Promise<{ handler: Handler; release: () => Promise<void> }> {
  const { ops } = options;
  // Before anything opens a span, as src/server.ts starts it.
  const tracing = ops?.otlpEndpoint
    ? (await import('../src/tracing-sdk.js')).startTracing({
        endpoint: ops.otlpEndpoint,
        serviceName: 'chipgate-bench',
      })
    : undefined;
  const db =
    options.backend === 'pglite'
      ? await wrapPglite(await loadPglite(options), {
          logger: statementCounter,
          description: 'pglite:bench',
        })
      : await openDatabase({
          databaseUrl: options.databaseUrl,
          poolMax: options.poolMax,
          logger: statementCounter,
          ...(options.prepare ? { prepare: options.prepare } : {}),
          ...(options.directUrl ? { directUrl: options.directUrl } : {}),
        });
  // Partner limits lifted: the load generator is one anonymous client sending far more than a
  // partner may (bench/limits.ts measures the limit check itself).
  const env = loadEnv({
    CHIPGATE_ANON_RATE_LIMIT: '1000000',
    CHIPGATE_ANON_COST_LIMIT: '1000000000',
  });
  const metrics = ops?.metrics ? createMetrics() : undefined;
  metrics?.watchPool(() => db.pool());
  const events = await EventHub.start(db, {
    maxQueue: env.CHIPGATE_SUBSCRIPTION_QUEUE_MAX,
    ...(metrics ? { observer: metrics.hub } : {}),
  });
  const responseCache = createResponseCache(schema, {
    ttlSeconds: ops?.responseCacheTtlSeconds ?? 0,
  });
  const { yoga } = createApp({
    db: db.db,
    events,
    ping: () => db.ping(),
    corsOrigins: [],
    graphiql: false,
    planner: options.path === 'old' ? 'off' : 'on',
    // The logger src/server.ts passes, at the default level (info: one line per request).
    logger: pino({ level: env.CHIPGATE_LOG_LEVEL }),
    limits: queryLimitsOf(env),
    access: { config: accessConfigOf(env) },
    ...(metrics ? { metrics } : {}),
    ...(responseCache ? { responseCache } : {}),
  });
  return {
    handler: (req, res) => yoga(req, res),
    async release() {
      await events.close();
      await responseCache?.close();
      await db.close();
      await tracing?.shutdown();
    },
  };
}

/** Reads a request body to the end. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The floor: POST /graphql with `{ operationName, variables }` of a benchmark workload -> the
 * body that workload's floor statement returns (the document itself is not read).
 */
async function startFloorHandler(options: TargetOptions): Promise<{
  handler: Handler;
  close: () => Promise<void>;
}> {
  let client: FloorClient;
  let close: () => Promise<void>;
  if (options.backend === 'pglite') {
    const pglite = await loadPglite(options);
    client = { pglite };
    close = () => pglite.close();
  } else {
    if (!options.databaseUrl) throw new Error('target: backend postgres needs databaseUrl');
    const sql = postgres(options.databaseUrl, postgresOptions(options.poolMax));
    client = { sql };
    close = () => sql.end({ timeout: 5 });
  }
  const reply = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
  const handler: Handler = async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/graphql') {
      reply(res, 404, '{"errors":[{"message":"not found"}]}');
      return;
    }
    try {
      const request = JSON.parse(await readBody(req)) as {
        operationName?: unknown;
        variables?: Record<string, unknown> | null;
      };
      meter.statements += 1;
      reply(res, 200, await answerOnFloor(client, request.operationName, request.variables));
    } catch (error) {
      const status = error instanceof FloorRequestError || error instanceof SyntaxError ? 400 : 500;
      reply(res, status, JSON.stringify({ errors: [{ message: String(error) }] }));
    }
  };
  return { handler, close };
}

async function start(options: TargetOptions): Promise<RunningTarget> {
  let handler: Handler;
  let release: () => Promise<void>;
  if (options.path !== 'floor') {
    ({ handler, release } = await startGatewayHandler(options));
  } else {
    const floor = await startFloorHandler(options);
    handler = floor.handler;
    release = floor.close;
  }
  // Requests are counted when they arrive, and a measurement window opens and closes only
  // when none is in flight (nor arriving), so the window holds all the work of exactly the
  // requests it counts (a request runs to its end even when its client has gone).
  let inFlight = 0;
  let lastArrival = 0;
  const onDrained: (() => void)[] = [];
  const server = createServer((req, res) => {
    meter.requests += 1;
    inFlight += 1;
    lastArrival = performance.now();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight -= 1;
      if (inFlight === 0) for (const resolve of onDrained.splice(0)) resolve();
    };
    // When the client leaves while a large response is being written (a load run ending), the
    // node adapter of yoga waits for a 'drain' that never comes and its promise never settles;
    // the request's work is done once its head is out.
    res.once('close', () => {
      if (res.headersSent) finish();
    });
    handler(req, res)
      .catch(() => {})
      .finally(finish);
  });
  // The same socket settings as src/server.ts.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const drained = (timeoutMs: number) => {
    if (inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      onDrained.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  };
  return {
    server,
    async settled(timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        await drained(Math.max(deadline - performance.now(), 0));
        const quietFor = performance.now() - lastArrival;
        if ((inFlight === 0 && quietFor >= QUIET_MS) || performance.now() >= deadline) return;
        await sleep(Math.max(QUIET_MS - quietFor, 10));
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await release();
    },
  };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as TargetOptions;
  const target = await start(options);
  const address = target.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let profiler: Session | undefined;

  process.on('message', (message: DriverMessage) => {
    const handle = async () => {
      switch (message.type) {
        case 'measure-start':
          await target.settled(DRAIN_TIMEOUT_MS);
          meter.start();
          send({ type: 'ack' });
          return;
        case 'measure-stop':
          await target.settled(DRAIN_TIMEOUT_MS);
          send({ type: 'measurement', measurement: meter.stop() });
          return;
        case 'profile-start':
          profiler = new Session();
          profiler.connect();
          await profiler.post('Profiler.enable');
          await profiler.post('Profiler.setSamplingInterval', { interval: 500 });
          await profiler.post('Profiler.start');
          send({ type: 'ack' });
          return;
        case 'profile-stop': {
          if (!profiler) throw new Error('target: profile-stop without profile-start');
          const { profile } = await profiler.post('Profiler.stop');
          profiler.disconnect();
          profiler = undefined;
          writeFileSync(message.file, JSON.stringify(profile));
          send({ type: 'profile-written', file: message.file });
          return;
        }
        case 'shutdown':
          await target.close();
          process.disconnect?.();
          process.exit(0);
      }
    };
    handle().catch((error: unknown) => {
      send({
        type: 'failed',
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    });
  });
  // The driver going away (crash, Ctrl-C) takes the target with it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', url: `http://127.0.0.1:${port}/graphql` });
}

main().catch((error: unknown) => {
  send({
    type: 'failed',
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
});
