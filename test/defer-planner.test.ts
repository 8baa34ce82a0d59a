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
  gateway.statements.reset();
  const plainQuery = without ?? query.replace(/@defer(\([^)]*\))?/g, '');
  const plain = await gateway.execute(plainQuery, without === undefined ? variables : undefined);
  const plainStatements = gateway.statements.count;
  expect(status).toBe(200);
  expect(plain.errors).toBeUndefined();
  expect(sortedKeys(mergePayloads(payloads))).toEqual(sortedKeys({ data: plain.data }));
  return { payloads, statements, plainStatements };
}

const CHIPS = `query ($first: Int!) {
  chips(first: $first) { edges { node { slug ... @defer { name tpp designer { name } } } } }
}`;

describe('a deferred fragment on planned fields', () => {
  it.each([2, 20])('is one statement more than without @defer (first: %i)', async (first) => {
    unplanned.length = 0;
    const { payloads, statements, plainStatements } = await compare(CHIPS, { first });
    expect(plainStatements).toBe(1);
    expect(statements).toBe(plainStatements + 1);
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
