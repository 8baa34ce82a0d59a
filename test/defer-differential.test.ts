/**
 * Differential check of incremental delivery: every operation generated from the schema
 * (`helpers/operations.ts`) is rewritten so that each object's selection is a
 * `... @defer { ... }` fragment, at every level, and every list field (connections' `edges`,
 * plain lists) is `@stream(initialCount: 1)`; the payloads, merged per the 2022 format (`incremental[].path` /
 * `data` / `items`), must equal the answer to the operation without them (same status, data
 * and errors), on the planned path and on the resolvers. A planned answer sends at most one
 * statement more per deferred fragment than without `@defer`.
 */
import {
  type ASTNode,
  type DocumentNode,
  type FieldNode,
  getNullableType,
  isListType,
  Kind,
  parse,
  print,
  type SelectionSetNode,
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
  type TestGateway,
  twinApp,
} from './helpers/gateway.js';
import { incrementalOn, mergePayloads, type Payload, sortedKeys } from './helpers/incremental.js';
import { type GeneratedOperation, generateOperations } from './helpers/operations.js';
import { connectionSites, probeQuery, type SiteProbe } from './helpers/schema-walk.js';
import { startUpstream, type Upstream, upstreamSourcesConfig } from './helpers/upstream.js';

let upstream: Upstream;
let gateway: TestGateway;
let resolvers: App;
const unplanned: string[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  gateway = await createTestGateway({
    planner: 'on',
    sources: upstreamSourcesConfig(upstream),
    onUnplanned: (reason) => unplanned.push(reason),
  });
  resolvers = twinApp(gateway, 'off');
});
afterAll(async () => {
  if (resolvers) await closeApp(resolvers);
  await gateway?.close();
  await upstream?.close();
});

/**
 * `document` with every field's sub-selection wrapped in `... @defer { }` and every list
 * field streamed; and the count of deferred fragments.
 */
function deferEverything(document: DocumentNode): { query: string; fragments: number } {
  let fragments = 0;
  // The fields that return a list (of objects or leaves).
  const lists = new Set<FieldNode>();
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const type = typeInfo.getType();
        if (type && isListType(getNullableType(type))) lists.add(node);
      },
    }),
  );
  const wrapped = visit(document, {
    Field(node: FieldNode) {
      if (!lists.has(node)) return undefined;
      const initialCount = {
        kind: Kind.ARGUMENT,
        name: { kind: Kind.NAME, value: 'initialCount' },
        value: { kind: Kind.INT, value: '1' },
      } as const;
      return {
        ...node,
        directives: [
          ...(node.directives ?? []),
          {
            kind: Kind.DIRECTIVE,
            name: { kind: Kind.NAME, value: 'stream' },
            arguments: [initialCount],
          },
        ],
      };
    },
    SelectionSet: {
      leave(node: SelectionSetNode, _key, parent: ASTNode | readonly ASTNode[] | undefined) {
        if (!parent || Array.isArray(parent) || (parent as ASTNode).kind !== Kind.FIELD) {
          return undefined;
        }
        fragments += 1;
        return {
          ...node,
          selections: [
            {
              kind: Kind.INLINE_FRAGMENT,
              directives: [{ kind: Kind.DIRECTIVE, name: { kind: Kind.NAME, value: 'defer' } }],
              selectionSet: node,
            },
          ],
        };
      },
    },
  });
  return { query: print(wrapped), fragments };
}

/** A result's data and errors, comparable whatever the order they arrived in. */
function comparable(status: number, result: Payload) {
  const errors = (result.errors ?? [])
    .map((error) =>
      JSON.stringify({
        message: error.message,
        path: error.path,
        code: error.extensions?.code,
      }),
    )
    .sort();
  // Unique: wrapping selections in fragments makes validation find a conflict twice.
  return { status, data: sortedKeys(result.data ?? null), errors: [...new Set(errors)] };
}

async function probe(): Promise<Map<ReturnType<typeof connectionSites>[number], SiteProbe>> {
  const probes = new Map();
  for (const site of connectionSites(schema)) {
    const { text } = await postOn(resolvers, probeQuery(site));
    let at: unknown = (JSON.parse(text) as { data?: unknown }).data;
    for (const key of site.dataPath) at = (at as Record<string, unknown> | null)?.[key];
    const page = at as { totalCount: number; edges: { cursor: string }[] };
    probes.set(site, {
      total: page.totalCount,
      ...(page.edges[0] ? { firstCursor: page.edges[0].cursor } : {}),
      ...(page.edges.length > 0 ? { lastCursor: page.edges.at(-1)?.cursor } : {}),
    });
  }
  return probes;
}

describe(`differential: @defer merged vs without (${backend})`, () => {
  let operations: GeneratedOperation[] = [];

  it('generates the operations', async () => {
    operations = generateOperations(schema, await probe());
    expect(operations.length).toBeGreaterThanOrEqual(200);
  });

  it('merges every deferred operation into the answer without @defer, on both paths', async () => {
    const differences: { name: string; path: string; deferred: unknown; plain: unknown }[] = [];
    const overStatements: string[] = [];
    let incremental = 0;
    let streamed = 0;
    for (const operation of operations) {
      const { query, fragments } = deferEverything(parse(operation.query));
      gateway.statements.reset();
      const plainText = await postOn(gateway.app, operation.query, operation.variables);
      const plainStatements = gateway.statements.count;
      const plain = comparable(plainText.status, JSON.parse(plainText.text) as Payload);
      for (const [path, app] of [
        ['planned', gateway.app],
        ['resolvers', resolvers],
      ] as const) {
        gateway.statements.reset();
        unplanned.length = 0;
        const { status, payloads } = await incrementalOn(app, query, operation.variables);
        // Counted when a plan answered (an operation the plan cannot answer, e.g. with a
        // malformed ID, goes to the resolvers, as without @defer).
        const planned = path === 'planned' && unplanned.length === 0;
        if (planned && gateway.statements.count > plainStatements + fragments) {
          overStatements.push(
            `${operation.name}: ${gateway.statements.count} > ${plainStatements} + ${fragments}`,
          );
        }
        if (payloads.length > 1) incremental += 1;
        if (payloads.some((p) => p.incremental?.some((part) => part.items))) streamed += 1;
        const deferred = comparable(status, mergePayloads(payloads));
        if (JSON.stringify(deferred) !== JSON.stringify(plain)) {
          differences.push({ name: operation.name, path, deferred, plain });
        }
      }
    }
    console.log(
      `defer differential (${backend}): ${operations.length} operations, ${incremental} answers delivered incrementally, ${streamed} with streamed items`,
    );
    expect(differences.map((d) => `${d.path}: ${d.name}`)).toEqual([]);
    expect(differences).toEqual([]);
    expect(overStatements).toEqual([]);
    expect(incremental).toBeGreaterThan(operations.length);
    expect(streamed).toBeGreaterThan(operations.length / 2);
  }, 300_000);
});
