/**
 * `npm run bench:jit`: graphql-jit for what still goes through resolvers.
 *
 * The planner answers store-only reads without any resolver; what still runs resolvers is the
 * old path (CHIPGATE_PLANNER=off) and mixed plans (operations with external-source fields,
 * mutations, subscription events), which graphql-js executes over the planner's derived
 * schema. This measures, in one process on one generated database (PostgreSQL at
 * DATABASE_URL, S = BENCH_SCALE, default 10), the Node CPU per request of:
 * - the old path with graphql-js, and with graphql-jit (`@envelop/graphql-jit`, the envelop
 *   plugin), on the reference query;
 * - a mixed plan (decisions with their Federal Register document, a resolver field) executed
 *   by graphql-js and by graphql-jit, beside the old path for it;
 * and checks that every answer is the same JSON as graphql-js' over the resolvers.
 * In process (`yoga.fetch`, no sockets), sequential requests; figures are CPU per request.
 */
import { useGraphQlJit } from '@envelop/graphql-jit';
import { type ExecutionArgs, type ExecutionResult, execute, print } from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import { createYoga, type Plugin } from 'graphql-yoga';
import { type Context, createContext } from '../src/context.js';
import { type DatabaseHandle, openDatabase } from '../src/db/client.js';
import { loadEnv, queryLimitsOf } from '../src/env.js';
import { createPlanner } from '../src/plan/execute.js';
import type { EventHub } from '../src/pubsub/hub.js';
import { schema } from '../src/schema/index.js';
import { loadBenchConfig } from './config.js';
import { preparePostgres } from './databases.js';
import { log, num, table } from './report.js';
import { NESTED_QUERY } from './workload.js';

const MIXED_QUERY = /* GraphQL */ `query Mixed {
  policyDecisions(first: 100) { edges { node { slug title status federalRegisterDocument { title } } } }
}`;

/** graphql-jit as an `execute`: one compiled query per (schema, document, operation). */
function jitExecute() {
  const compiled = new WeakMap<object, Map<string, ReturnType<typeof compileQuery>>>();
  return (args: ExecutionArgs): Promise<ExecutionResult> | ExecutionResult => {
    let bySchema = compiled.get(args.schema);
    if (!bySchema) {
      bySchema = new Map();
      compiled.set(args.schema, bySchema);
    }
    const key = `${args.operationName ?? ''}\u0000${print(args.document)}`;
    let query = bySchema.get(key);
    if (!query) {
      query = compileQuery(args.schema, args.document, args.operationName ?? undefined);
      bySchema.set(key, query);
    }
    if (!isCompiledQuery(query as Parameters<typeof isCompiledQuery>[0])) {
      return execute(args) as ExecutionResult;
    }
    return (query as CompiledQuery).query(args.rootValue, args.contextValue, args.variableValues) as
      | Promise<ExecutionResult>
      | ExecutionResult;
  };
}

/** A minimal yoga over the schema: context per request, and the given plugins. */
function yogaWith(db: DatabaseHandle, plugins: Plugin<Context>[]) {
  const limits = queryLimitsOf(loadEnv({}));
  return createYoga<Record<string, unknown>, Context>({
    schema,
    logging: false,
    maskedErrors: true,
    context: () => createContext({ db: db.db, limits, events: {} as EventHub }),
    plugins,
  });
}

async function measure(
  yoga: ReturnType<typeof yogaWith>,
  query: string,
  variables: Record<string, unknown>,
  requests: number,
): Promise<{ cpuMs: number; body: string }> {
  const send = async () => {
    const response = await yoga.fetch('http://bench/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return response.text();
  };
  let body = await send();
  for (let i = 0; i < 20; i += 1) await send();
  const start = process.cpuUsage();
  for (let i = 0; i < requests; i += 1) body = await send();
  const used = process.cpuUsage(start);
  return { cpuMs: (used.user + used.system) / 1000 / requests, body };
}

async function main() {
  const config = loadBenchConfig(process.env);
  const name = `${config.databaseName}_jit`;
  const url = new URL(config.databaseUrl);
  url.pathname = `/${name}`;
  log(`bench:jit: S=${config.scale} on ${url.host}/${name}, generating ...`);
  const prepared = await preparePostgres(config.scale, config.adminUrl, url.toString(), name);
  const db = await openDatabase({ databaseUrl: url.toString(), poolMax: 2 });
  const requests = Number(process.env.BENCH_REQUESTS ?? 200);
  try {
    const jitPlanner = createPlanner({ schema, execute: jitExecute() });
    const planner = createPlanner({ schema });
    const paths = {
      'resolvers, graphql-js': yogaWith(db, []),
      'resolvers, graphql-jit': yogaWith(db, [useGraphQlJit() as Plugin<Context>]),
      'planner, graphql-js': yogaWith(db, [planner.plugin()]),
      'planner, graphql-jit': yogaWith(db, [jitPlanner.plugin()]),
    };
    const rows: (string | number)[][] = [];
    for (const [label, query, variables] of [
      ['reference query (store only)', NESTED_QUERY, { first: 50 }],
      ['mixed (a resolver field)', MIXED_QUERY, {}],
    ] as const) {
      let reference: string | undefined;
      for (const [path, yoga] of Object.entries(paths)) {
        const { cpuMs, body } = await measure(yoga, query, variables, requests);
        reference ??= body;
        rows.push([label, path, num(cpuMs, 2), body === reference ? 'same' : 'DIFFERENT']);
      }
    }
    log('');
    log(
      table(['operation', 'path', 'Node CPU ms/request', 'answer vs graphql-js'], rows, [
        false,
        false,
        true,
        false,
      ]),
    );
    log('');
    log(
      `In process (yoga.fetch, no sockets), ${requests} sequential requests after 20 warm-up; ` +
        'the planner answers the store-only query without resolvers, so graphql-jit changes ' +
        'nothing there.',
    );
  } finally {
    await db.close();
    await prepared.dispose();
  }
}

await main();
