/**
 * The planned read path against plain graphql-js execution of the same schema (the resolvers,
 * planner off), over one database: every operation generated from the schema
 * (`helpers/operations.ts`) must get the same HTTP status and the same response text (data,
 * errors with messages, paths and codes, in order) from both. External sources are served by
 * the fixture upstream, one set of sources for both apps (so both read the same cache).
 */
import {
  type GraphQLNamedType,
  getNamedType,
  isAbstractType,
  isObjectType,
  parse,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { schema } from '../src/schema/index.js';
import { backend } from './helpers/database.js';
import {
  closeApp,
  createTestGateway,
  postOn,
  type RawResponse,
  type TestGateway,
  twinApp,
} from './helpers/gateway.js';
import { type GeneratedOperation, generateOperations } from './helpers/operations.js';
import { probeSites } from './helpers/schema-walk.js';
import {
  startUpstream,
  UNHURRIED_SOURCES,
  type Upstream,
  upstreamSourcesConfig,
} from './helpers/upstream.js';

/**
 * Why an operation may go to the resolvers instead of a plan: a global ID argument that does
 * not decode (the plan cannot bind it; the resolvers answer with the ID's own error). Any
 * other reason fails the test: a store-backed field without a plan is a bug.
 */
const UNPLANNED_ALLOWED: readonly { name: string; pattern: RegExp }[] = [
  {
    name: 'malformed global ID',
    pattern: /^"[^"]*" is not (a chipgate ID|a valid [A-Za-z]+ ID)\b/,
  },
];

let upstream: Upstream;
let gateway: TestGateway;
let resolvers: App;
const unplanned: string[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  gateway = await createTestGateway({
    planner: 'on',
    sources: upstreamSourcesConfig(upstream, UNHURRIED_SOURCES),
    onUnplanned: (reason) => unplanned.push(reason),
  });
  resolvers = twinApp(gateway, 'off');
});
afterAll(async () => {
  if (resolvers) await closeApp(resolvers);
  await gateway?.close();
  await upstream?.close();
});

/** `Type.field` of every field of every object type reachable from `Query`. */
function queryableFields(): Set<string> {
  const fields = new Set<string>();
  const seen = new Set<string>();
  const visitType = (type: GraphQLNamedType) => {
    if (seen.has(type.name)) return;
    seen.add(type.name);
    if (isAbstractType(type)) for (const member of schema.getPossibleTypes(type)) visitType(member);
    if (!isObjectType(type)) return;
    for (const field of Object.values(type.getFields())) {
      fields.add(`${type.name}.${field.name}`);
      visitType(getNamedType(field.type));
    }
  };
  const query = schema.getQueryType();
  if (query) visitType(query);
  return fields;
}

const asText = (response: RawResponse) => `HTTP ${response.status}\n${response.text}`;

describe(`differential: planned vs resolvers (${backend})`, () => {
  let operations: GeneratedOperation[] = [];

  it('generates at least 200 operations from the schema, selecting every field', async () => {
    operations = generateOperations(
      schema,
      await probeSites(schema, (query) => postOn(resolvers, query)),
    );
    expect(operations.length).toBeGreaterThanOrEqual(200);
    // Every field of every object type a query can reach is selected by some operation.
    const selected = new Set<string>();
    for (const operation of operations) {
      const typeInfo = new TypeInfo(schema);
      visit(
        parse(operation.query),
        visitWithTypeInfo(typeInfo, {
          Field() {
            const parent = typeInfo.getParentType();
            const field = typeInfo.getFieldDef();
            if (parent && field) selected.add(`${parent.name}.${field.name}`);
          },
        }),
      );
    }
    const missing = [...queryableFields()].filter((field) => !selected.has(field));
    expect(missing).toEqual([]);
  });

  it('answers every operation with the same status and response text on both paths', async () => {
    expect(operations.length).toBeGreaterThan(0);
    const differences: { name: string; planned: string; resolvers: string }[] = [];
    let withErrors = 0;
    const sources = new Set<string>();
    for (const operation of operations) {
      const planned = asText(await postOn(gateway.app, operation.query, operation.variables));
      const resolved = asText(await postOn(resolvers, operation.query, operation.variables));
      if (planned !== resolved) {
        differences.push({ name: operation.name, planned, resolvers: resolved });
      }
      if (planned.includes('"errors":')) withErrors += 1;
      for (const match of planned.matchAll(/"source":"([a-z-]+)"/g)) sources.add(match[1] ?? '');
    }
    console.log(`differential (${backend}): ${withErrors} of ${operations.length} answered errors`);
    // The external fields were answered by the fixture upstream, not refused.
    expect([...sources].sort()).toEqual(['federal-register', 'news', 'sec-edgar']);
    // Names first, so a failure lists every differing operation before the details.
    expect(differences.map((d) => d.name)).toEqual([]);
    expect(differences).toEqual([]);
  }, 180_000);

  it('answers every operation from a plan but those the allow-list gives a reason for', () => {
    expect(operations.length).toBeGreaterThan(0);
    const planned = operations.length - unplanned.length;
    const reasons = new Map<string, number>();
    for (const reason of unplanned) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    console.log(
      `differential (${backend}): ${operations.length} operations, ${planned} answered by a plan ` +
        `(${((planned / operations.length) * 100).toFixed(1)}%); to the resolvers: ${JSON.stringify(Object.fromEntries(reasons))}`,
    );
    // Each operation the resolvers answer names its reason, and the reason is on the list.
    const unexplained = unplanned.filter(
      (reason) => !UNPLANNED_ALLOWED.some((allowed) => allowed.pattern.test(reason)),
    );
    expect(unexplained).toEqual([]);
    // Exactly the operations the generator sends with a malformed global ID (the resolvers
    // answer those with the ID's own error), nothing else.
    const byReason = Object.fromEntries(
      UNPLANNED_ALLOWED.map(({ name, pattern }) => [
        name,
        unplanned.filter((reason) => pattern.test(reason)).length,
      ]),
    );
    expect(byReason).toEqual({ 'malformed global ID': 7 });
    expect(planned).toBe(operations.length - 7);
  });
});
