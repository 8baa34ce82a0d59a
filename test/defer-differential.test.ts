/**
 * Differential check of incremental delivery: every operation generated from the schema
 * (`helpers/operations.ts`) is rewritten so that each object's selection is a
 * `... @defer { ... }` fragment, at every level, and every list field (connections' `edges`,
 * plain lists) is `@stream(initialCount: 1)`; the payloads, merged per the 2022 format
 * (`incremental[].path` / `data` / `items`), must equal the answer to the operation without
 * them (same status, data and errors), on the planned path and on the resolvers. On the
 * planned path two more rewrites: only the second half of each selection deferred (what the
 * planner splits apart), and each root field's selection repeated in a deferred copy (what it
 * must keep inline), compared with that copy without `@defer`. A planned answer sends at most
 * one statement more per deferred fragment than without `@defer`.
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
import { probeSites } from './helpers/schema-walk.js';
import {
  startUpstream,
  UNHURRIED_SOURCES,
  type Upstream,
  upstreamSourcesConfig,
} from './helpers/upstream.js';

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

/**
 * `document` with every field's sub-selection wrapped in `... @defer { }` and every list
 * field streamed; and the count of deferred fragments.
 */
function deferEverything(
  document: DocumentNode,
  mode: 'all' | 'half' | 'copy' = 'all',
): { query: string; fragments: number } {
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
      leave(
        node: SelectionSetNode,
        _key,
        parent: ASTNode | readonly ASTNode[] | undefined,
        _path,
        ancestors: readonly (ASTNode | readonly ASTNode[])[],
      ) {
        if (!parent || Array.isArray(parent) || (parent as ASTNode).kind !== Kind.FIELD) {
          return undefined;
        }
        const deferred = (selectionSet: SelectionSetNode) => ({
          kind: Kind.INLINE_FRAGMENT,
          directives: [{ kind: Kind.DIRECTIVE, name: { kind: Kind.NAME, value: 'defer' } }],
          selectionSet,
        });
        if (mode === 'half') {
          // The first half answered at once, the second half deferred.
          const cut = Math.ceil(node.selections.length / 2);
          if (cut === node.selections.length) return undefined;
          fragments += 1;
          return {
            ...node,
            selections: [
              ...node.selections.slice(0, cut),
              deferred({ ...node, selections: node.selections.slice(cut) }),
            ],
          };
        }
        if (mode === 'copy') {
          // The selection at once and again deferred (every object field shared), under root
          // fields only: at every level, copies would double the fields per path each time.
          const depth = ancestors.filter(
            (a) => !Array.isArray(a) && (a as ASTNode).kind === Kind.FIELD,
          );
          if (depth.length > 0) return undefined;
          fragments += 1;
          return { ...node, selections: [...node.selections, deferred(node)] };
        }
        fragments += 1;
        return { ...node, selections: [deferred(node)] };
      },
    },
  });
  return { query: print(wrapped), fragments };
}

/** `query` without its `@defer` and `@stream` directives. */
function withoutIncremental(query: string): string {
  return print(
    visit(parse(query), {
      Directive(node) {
        return node.name.value === 'defer' || node.name.value === 'stream' ? null : undefined;
      },
    }),
  );
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

describe(`differential: @defer merged vs without (${backend})`, () => {
  let operations: GeneratedOperation[] = [];

  it('generates the operations', async () => {
    operations = generateOperations(
      schema,
      await probeSites(schema, (query) => postOn(resolvers, query)),
    );
    expect(operations.length).toBeGreaterThanOrEqual(200);
  });

  it('merges every deferred operation into the answer without @defer, on both paths', async () => {
    const differences: { name: string; path: string; deferred: unknown; plain: unknown }[] = [];
    const overStatements: string[] = [];
    let incremental = 0;
    let streamed = 0;
    for (const operation of operations) {
      gateway.statements.reset();
      const plainText = await postOn(gateway.app, operation.query, operation.variables);
      const plainStatements = gateway.statements.count;
      const plain = comparable(plainText.status, JSON.parse(plainText.text) as Payload);
      // Every selection deferred, on both read paths; half of each, and a deferred copy of
      // each, on the planned path (what it splits apart and what it must keep inline).
      for (const [path, app, mode] of [
        ['planned', gateway.app, 'all'],
        ['resolvers', resolvers, 'all'],
        ['planned', gateway.app, 'half'],
        ['planned', gateway.app, 'copy'],
      ] as const) {
        const { query, fragments } = deferEverything(parse(operation.query), mode);
        // The copy's fields repeat, which costs and validates as a different document: its
        // answer is compared with the copy's own without @defer/@stream.
        let expected = plain;
        let expectedStatements = plainStatements;
        if (mode === 'copy') {
          gateway.statements.reset();
          const copy = await postOn(gateway.app, withoutIncremental(query), operation.variables);
          expectedStatements = gateway.statements.count;
          expected = comparable(copy.status, JSON.parse(copy.text) as Payload);
        }
        gateway.statements.reset();
        unplanned.length = 0;
        const { status, payloads } = await incrementalOn(app, query, operation.variables);
        // Counted when a plan answered (an operation the plan cannot answer, e.g. with a
        // malformed ID, goes to the resolvers, as without @defer).
        const planned = path === 'planned' && unplanned.length === 0;
        if (planned && gateway.statements.count > expectedStatements + fragments) {
          overStatements.push(
            `${operation.name}: ${gateway.statements.count} > ${expectedStatements} + ${fragments}`,
          );
        }
        if (payloads.length > 1) incremental += 1;
        if (payloads.some((p) => p.incremental?.some((part) => part.items))) streamed += 1;
        const deferred = comparable(status, mergePayloads(payloads));
        if (JSON.stringify(deferred) !== JSON.stringify(expected)) {
          differences.push({
            name: operation.name,
            path: `${path} (${mode})`,
            deferred,
            plain: expected,
          });
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
