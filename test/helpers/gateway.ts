/**
 * An in-process gateway over a fresh test database: the yoga app without a port, for schema
 * behaviour. Transport tests start the real server instead (see `server.ts` helpers).
 */
import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll } from 'vitest';
import type { AccessOptions } from '../../src/access/index.js';
import { type App, type AppLogger, createApp } from '../../src/app.js';
import type { DatabaseHandle } from '../../src/db/client.js';
import { accessConfigOf, loadEnv, queryLimitsOf } from '../../src/env.js';
import type { QueryLimits } from '../../src/operation-limits.js';
import { EventHub } from '../../src/pubsub/hub.js';
import { createSources, type Sources, type SourcesConfig } from '../../src/sources/index.js';
import { createTestDatabase, StatementLog, type TestDatabase } from './database.js';

/** The limits a default configuration gives. */
export function defaultLimits(): QueryLimits {
  return queryLimitsOf(loadEnv({}));
}

/**
 * Partner limits lifted far above what any test sends, so only tests about limits meet them
 * (they set their own). Configuration variables, for gateways started from an environment.
 */
export const LIFTED_LIMITS: Record<string, string> = {
  CHIPGATE_ANON_RATE_LIMIT: '1000000',
  CHIPGATE_ANON_COST_LIMIT: '1000000000',
  CHIPGATE_ANON_MAX_SUBSCRIPTIONS: '100000',
  CHIPGATE_KEY_RATE_LIMIT: '1000000',
  CHIPGATE_KEY_COST_LIMIT: '1000000000',
  CHIPGATE_KEY_MAX_SUBSCRIPTIONS: '100000',
};

/** The partner access settings of `LIFTED_LIMITS` plus `vars` (e.g. introspection). */
export function accessConfig(vars: Record<string, string> = {}) {
  return accessConfigOf(loadEnv({ ...LIFTED_LIMITS, ...vars }));
}

/** A GraphQL response with its HTTP status. */
export interface Response<TData = Record<string, unknown>> extends ExecutionResult<TData> {
  status: number;
}

/** What `createTestGateway` returns. */
export interface TestGateway {
  database: TestDatabase;
  /** The app's event hub, listening on the test database. */
  events: EventHub;
  app: App;
  /** The external sources the app uses (all off unless `sources` was given). */
  sources?: Sources;
  /** Every SQL statement sent since the last `statements.reset()`. */
  statements: StatementLog;
  /** POSTs an operation to `/graphql` in process. */
  execute<TData = any>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<Response<TData>>;
  close(): Promise<void>;
}

/** The app over an open database handle and its event hub, with default limits, no GraphiQL. */
export function appOn(
  handle: Pick<DatabaseHandle, 'db' | 'ping'>,
  events: EventHub,
  options: { logger?: AppLogger } = {},
): App {
  return createApp({
    db: handle.db,
    events,
    ping: () => handle.ping(),
    limits: defaultLimits(),
    corsOrigins: [],
    graphiql: false,
    access: { config: accessConfig() },
    ...options,
  });
}

/** A response as sent: HTTP status and body text. */
export interface RawResponse {
  status: number;
  text: string;
}

/** POSTs an operation to an app's `/graphql` in process (no socket); the body as sent. */
export function postOn(
  app: App,
  query: string,
  variables?: Record<string, unknown>,
  headers?: Record<string, string>,
): Promise<RawResponse> {
  return postTextOn(app, JSON.stringify({ query, variables }), headers);
}

/**
 * POSTs a JSON body given as text to an app's `/graphql` in process, e.g. with a number
 * `JSON.stringify` cannot write (`1e999`, which `JSON.parse` reads as Infinity).
 */
export async function postTextOn(
  app: App,
  body: string,
  headers?: Record<string, string>,
): Promise<RawResponse> {
  const response = await app.yoga.fetch('http://chipgate.test/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...headers,
    },
    body,
  });
  return { status: response.status, text: await response.text() };
}

/** POSTs an operation to an app's `/graphql` in process (no socket). */
export async function executeOn<TData = any>(
  app: App,
  query: string,
  variables?: Record<string, unknown>,
  headers?: Record<string, string>,
): Promise<Response<TData>> {
  const { status, text } = await postOn(app, query, variables, headers);
  return { ...(JSON.parse(text) as ExecutionResult<TData>), status };
}

/** A fresh database and app for one test file. */
export async function createTestGateway(
  options: {
    limits?: Partial<QueryLimits>;
    corsOrigins?: string[];
    maxQueue?: number;
    sources?: SourcesConfig;
    /** The read path (default: the planner, as the gateway runs). */
    planner?: 'on' | 'off';
    /** Partner access settings (default: `accessConfig()`), clock, observer. */
    access?: Partial<Omit<AccessOptions, 'db'>>;
    /** Told whenever the planner hands an operation to the resolvers (see `createApp`). */
    onUnplanned?: (reason: string) => void;
    /** Live delivery settings (see `createApp`): e.g. a small SSE buffer bound. */
    live?: { maxBufferedBytes?: number };
  } = {},
): Promise<TestGateway> {
  const statements = new StatementLog();
  const database = await createTestDatabase({ logger: statements });
  const events = await EventHub.start(database, { maxQueue: options.maxQueue ?? 1_000 });
  // The hub's start-up read goes through the statement log too: let it finish first.
  await events.settled();
  const sources = options.sources ? createSources(options.sources) : undefined;
  const app = createApp({
    db: database.db,
    events,
    ...(sources ? { sources } : {}),
    ping: () => database.ping(),
    limits: { ...defaultLimits(), ...options.limits },
    corsOrigins: options.corsOrigins ?? [],
    graphiql: true,
    ...(options.planner ? { planner: options.planner } : {}),
    ...(options.onUnplanned ? { onUnplanned: options.onUnplanned } : {}),
    ...(options.live ? { live: options.live } : {}),
    access: { config: accessConfig(), ...options.access },
  });
  return {
    database,
    events,
    app,
    ...(sources ? { sources } : {}),
    statements,
    execute: (query, variables, headers) => executeOn(app, query, variables, headers),
    async close() {
      await events.close();
      await app.access.close();
      await app.yoga.dispose();
      await sources?.close();
      await database.close();
    },
  };
}

/**
 * A second app over a test gateway's database, event hub and sources, on the read path
 * `planner` (e.g. `off`, to compare with the gateway's planned answers). Close it with
 * `closeApp` before the gateway.
 */
export function twinApp(gateway: TestGateway, planner: 'on' | 'off'): App {
  return createApp({
    db: gateway.database.db,
    events: gateway.events,
    ...(gateway.sources ? { sources: gateway.sources } : {}),
    ping: () => gateway.database.ping(),
    limits: defaultLimits(),
    corsOrigins: [],
    graphiql: false,
    planner,
    access: { config: accessConfig() },
  });
}

/** Closes an app made by `twinApp` (not the database or hub it shares). */
export async function closeApp(app: App): Promise<void> {
  await app.access.close();
  await app.yoga.dispose();
}

/** A test gateway and a resolvers-only twin over its database (see `bothReadPaths`). */
export interface BothReadPaths {
  /** The test gateway (planner on, the gateway's default); set once `beforeAll` ran. */
  readonly gateway: TestGateway;
  /** A twin app over the same database and hub with the planner off. */
  readonly resolversOnly: App;
  /** Both read paths by name, for `it.each`: the planner (`gateway.app`) and the resolvers. */
  readonly paths: readonly [readonly [string, () => App], readonly [string, () => App]];
}

/**
 * Opens a test gateway and its resolvers-only twin in the calling file's `beforeAll` and closes
 * both in its `afterAll`, for tests that hold both read paths to the same answer. Call it at
 * the top level of a test file, before the file's own hooks (they run after it).
 */
export function bothReadPaths(): BothReadPaths {
  let gateway: TestGateway | undefined;
  let resolversOnly: App | undefined;
  beforeAll(async () => {
    gateway = await createTestGateway();
    resolversOnly = twinApp(gateway, 'off');
  });
  afterAll(async () => {
    if (resolversOnly) await closeApp(resolversOnly);
    await gateway?.close();
  });
  const opened = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('bothReadPaths: used before beforeAll ran');
    return value;
  };
  return {
    get gateway() {
      return opened(gateway);
    },
    get resolversOnly() {
      return opened(resolversOnly);
    },
    paths: [
      ['planner on', () => opened(gateway).app],
      ['planner off', () => opened(resolversOnly)],
    ],
  };
}

/** A response as `postText` reads it: HTTP status, data and errors. */
export interface PostedResult {
  status: number;
  data?: any;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** POSTs a JSON body given as text to `app` (see `postTextOn`), and reads the response. */
export async function postText(
  app: App,
  body: string,
  headers: Record<string, string> = {},
): Promise<PostedResult> {
  const { status, text } = await postTextOn(app, body, headers);
  return { status, ...JSON.parse(text) } as PostedResult;
}

/** POSTs an operation with variables to `app`, and reads the response. */
export const postJson = (
  app: App,
  query: string,
  variables?: unknown,
  headers?: Record<string, string>,
): Promise<PostedResult> => postText(app, JSON.stringify({ query, variables }), headers);

/** The codes of a response's errors, in order. */
export const codes = (result: { errors?: { extensions?: { code?: string } }[] }) =>
  (result.errors ?? []).map((error) => error.extensions?.code);
