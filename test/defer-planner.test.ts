/**
 * `@defer` on planned store fields: the deferred fragment is left out of the initial statement
 * and loaded by one statement of its own, keyed by the parent rows (statements = today's + 1
 * per deferred fragment, whatever the page size); the merged payloads equal the answer
 * without `@defer`, and no operation falls back to the resolvers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from './helpers/gateway.js';
import { incrementalOn, mergePayloads, sortedKeys } from './helpers/incremental.js';

let gateway: TestGateway;
const unplanned: string[] = [];

beforeAll(async () => {
  gateway = await createTestGateway({ onUnplanned: (reason) => unplanned.push(reason) });
});
afterAll(async () => {
  await gateway?.close();
});

/** Statements and payloads of `query` (multipart), and of it without `@defer`. */
async function compare(query: string, variables?: Record<string, unknown>, without?: string) {
  gateway.statements.reset();
  const { status, payloads } = await incrementalOn(gateway.app, query, variables);
  const statements = gateway.statements.count;
  const sent = [...gateway.statements.statements];
  const sentParams = [...gateway.statements.params];
  gateway.statements.reset();
  const plainQuery = without ?? query.replace(/@defer(\([^)]*\))?/g, '');
  const plain = await gateway.execute(plainQuery, without === undefined ? variables : undefined);
  const plainStatements = gateway.statements.count;
  expect(status).toBe(200);
  expect(plain.errors).toBeUndefined();
  expect(sortedKeys(mergePayloads(payloads))).toEqual(sortedKeys({ data: plain.data }));
  return { payloads, statements, plainStatements, sent, sentParams };
}

const CHIPS = `query ($first: Int!) {
  chips(first: $first) { edges { node { slug ... @defer { name tpp designer { name } } } } }
}`;

describe('a deferred fragment on planned fields', () => {
  it.each([2, 20])('is one statement more than without @defer (first: %i)', async (first) => {
    unplanned.length = 0;
    const { payloads, statements, plainStatements, sent, sentParams } = await compare(CHIPS, {
      first,
    });
    expect(plainStatements).toBe(1);
    expect(statements).toBe(plainStatements + 1);
    // The fragment's statement comes second, keyed by the ids of the chips of the page.
    expect(sent[0]).not.toMatch(/= any\(/);
    expect(sent[1]).toMatch(/= any\(/);
    const ids = sentParams[1]?.[0] as unknown[];
    expect(ids).toHaveLength((payloads[0] as { data: any }).data.chips.edges.length);
    const initial = payloads[0] as { data: { chips: { edges: { node: object }[] } } };
    expect(initial.data.chips.edges).toHaveLength(Math.min(first, initial.data.chips.edges.length));
    for (const edge of initial.data.chips.edges) expect(Object.keys(edge.node)).toEqual(['slug']);
    expect(unplanned).toEqual([]);
  });

  it('costs one statement per deferred fragment, however deep', async () => {
    const query = `{
      chips(first: 10) {
        edges { node { slug
          ... @defer { name }
          designer { slug ... @defer(label: "designer") { name country } }
        } }
      }
      chip(slug: "h200") { slug ... @defer { policyDecisions(first: 5) { totalCount edges { node { slug } } } } }
    }`;
    const { statements, plainStatements, payloads } = await compare(query);
    expect(plainStatements).toBe(2);
    expect(statements).toBe(plainStatements + 3);
    const labels = payloads.flatMap((p) => p.incremental ?? []).map((part) => part.label);
    expect(labels).toContain('designer');
  });

  it('@defer(if: false) and a fragment spread with @defer', async () => {
    const query = `query ($defer: Boolean!) {
      chip(slug: "h200") { slug ...Spec @defer(if: $defer) }
    }
    fragment Spec on Chip { memoryGb memoryType designer { name } }`;
    const without = query
      .replace('query ($defer: Boolean!)', '')
      .replace(' @defer(if: $defer)', '');
    const off = await compare(query, { defer: false }, without);
    expect(off.statements).toBe(off.plainStatements);
    expect(off.payloads).toHaveLength(1);
    const on = await compare(query, { defer: true }, without);
    expect(on.statements).toBe(on.plainStatements + 1);
    expect(on.payloads.length).toBeGreaterThan(1);
  });

  it('a deferred fragment on a value object or an edge is planned inline', async () => {
    const query = `{ chip(slug: "h200") {
      slug
      exportStatus(asOf: "2026-02-01") { exportEffect ... @defer { importEffect } }
      policyDecisions(first: 3) { edges { ... @defer { effect } node { slug } } }
    } }`;
    const { statements, plainStatements, payloads } = await compare(query);
    expect(statements).toBe(plainStatements);
    expect(payloads.length).toBeGreaterThan(1);
  });

  it('a row without deferred parents sends no extra statement', async () => {
    const query = '{ chip(slug: "no-such-chip") { slug ... @defer { name } } }';
    const { statements, plainStatements } = await compare(query);
    expect(statements).toBe(plainStatements);
  });
});

describe('deferred fragments that share an object field with their parent', () => {
  it('are planned inline, so every sub-selection is answered', async () => {
    const query = `{ chips(first: 5) { edges { node {
      slug designer { name }
      ... @defer { tpp designer { ticker country } }
      ... @defer { designer { slug } }
      ...More @defer
      ...More @defer
    } } } }
    fragment More on Chip { name derivedFrom { slug } }`;
    const { statements, plainStatements, payloads } = await compare(query);
    // The two fragments over `designer` are inline; `More` (spread twice) is too, since its
    // second spread shares `derivedFrom` with the first.
    expect(statements).toBe(plainStatements);
    expect(payloads.length).toBeGreaterThan(1);
  });

  it('a fragment sharing only leaves is still planned apart', async () => {
    const query = `{ chips(first: 5) { edges { node {
      slug name ... @defer { name tpp designer { name } }
    } } } }`;
    const { statements, plainStatements } = await compare(query);
    expect(statements).toBe(plainStatements + 1);
  });
});

describe('deferred fragments as the executor collects them (@graphql-tools/utils)', () => {
  it('a fragment nested in a deferred one is a payload and a statement of its own', async () => {
    unplanned.length = 0;
    const query = `{ chip(slug: "h200") {
      slug ... @defer(label: "outer") { name ... @defer(label: "inner") { tpp } }
    } }`;
    const { statements, plainStatements, payloads } = await compare(query);
    expect(statements).toBe(plainStatements + 2);
    const parts = payloads.flatMap((p) => p.incremental ?? []);
    expect(parts.map((part) => [part.label, Object.keys(part.data ?? {})]).sort()).toEqual([
      ['inner', ['tpp']],
      ['outer', ['name']],
    ]);
    expect(unplanned).toEqual([]);
  });

  it('a spread walked in a deferred fragment is not walked again outside it', async () => {
    unplanned.length = 0;
    const query = `{ chip(slug: "h200") { slug ... @defer { ...Spec } ...Spec } }
    fragment Spec on Chip { memoryGb designer { name } }`;
    const without = `{ chip(slug: "h200") { slug ...Spec } }
    fragment Spec on Chip { memoryGb designer { name } }`;
    const { statements, plainStatements, payloads } = await compare(query, undefined, without);
    // The executor sends Spec's fields in the deferred payload only, and so does the plan.
    const initial = payloads[0] as { data: { chip: object } };
    expect(Object.keys(initial.data.chip)).toEqual(['slug']);
    expect(statements).toBe(plainStatements + 1);
    expect(unplanned).toEqual([]);
  });
});
