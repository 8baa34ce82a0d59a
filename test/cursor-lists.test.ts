/**
 * A cursor works only on the list that issued it, on both read paths (planner on and off):
 * another list's cursor, an old-format cursor or a forged list name is BAD_USER_INPUT before
 * any SQL. (Cursor values that do not fit their list's sort keys: forged-cursors.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { type ListDeclaration, lists } from '../src/db/lists.js';
import { bothReadPaths, codes, postJson as post } from './helpers/gateway.js';
import { LIST_PAGES } from './helpers/lists.js';

const both = bothReadPaths();

/** Both read paths: the planner (the gateway's default) and the resolvers. */
const PATHS = both.paths;

/** Every connection over the store, by the name its cursors carry. */
const LISTS = LIST_PAGES;

/** The end cursor of each list's first page. */
async function firstPageCursors(app: App): Promise<Map<string, string>> {
  const cursors = new Map<string, string>();
  for (const [name, list] of Object.entries(LISTS)) {
    const result = await post(app, list.query, { c: null });
    expect(result.errors, name).toBeUndefined();
    const cursor = list.page(result.data).pageInfo.endCursor;
    expect(cursor, `${name} has a page`).toEqual(expect.any(String));
    cursors.set(name, cursor);
  }
  return cursors;
}

describe('a cursor works only on the list that issued it', () => {
  it.each(PATHS)(
    '%s: a policyDecisions cursor as `after` on chips is BAD_USER_INPUT, before any SQL',
    async (_name, app) => {
      const page = await post(app(), '{ policyDecisions(first: 1) { pageInfo { endCursor } } }');
      const cursor = page.data.policyDecisions.pageInfo.endCursor;
      both.gateway.statements.reset();
      const result = await post(
        app(),
        'query ($c: String) { chips(first: 5, after: $c) { edges { node { slug } } } }',
        { c: cursor },
      );
      expect(result.data).toBeUndefined();
      expect(codes(result)).toEqual(['BAD_USER_INPUT']);
      expect(result.errors?.[0]?.message).toMatch(
        /^Argument "after" is not a cursor this list issued: ".+" was issued by Query\.policyDecisions\. .*\(Query\.chips\)\.$/,
      );
      expect(both.gateway.statements.count).toBe(0);
    },
  );

  it.each(PATHS)(
    '%s: every list refuses the cursors of every other list, and takes its own',
    async (_name, app) => {
      const cursors = await firstPageCursors(app());
      const accepted: string[] = [];
      for (const [issuer, cursor] of cursors) {
        for (const [name, list] of Object.entries(LISTS)) {
          for (const argument of ['after', 'before']) {
            const query = list.query.replace('first: 2, after: $c', `last: 2, before: $c`);
            const result = await post(app(), argument === 'after' ? list.query : query, {
              c: cursor,
            });
            if (issuer === name) {
              expect(result.errors, `${name} ${argument} its own cursor`).toBeUndefined();
              accepted.push(`${name} ${argument}`);
            } else {
              expect(codes(result), `${issuer} cursor on ${name} (${argument})`).toEqual([
                'BAD_USER_INPUT',
              ]);
              expect(result.errors?.[0]?.message).toContain(`was issued by ${issuer}.`);
            }
          }
        }
      }
      expect(accepted).toHaveLength(Object.keys(LISTS).length * 2);
    },
  );

  it.each(PATHS)(
    '%s: within one list a cursor keeps its meaning under another parent, order or filter',
    async (_name, app) => {
      const page = await post(
        app(),
        '{ chip(slug: "h200") { policyDecisions(first: 1) { edges { node { slug announcedOn } } pageInfo { endCursor } } } }',
      );
      const cursor = page.data.chip.policyDecisions.pageInfo.endCursor;
      const h20 = await post(
        app(),
        'query ($c: String) { chip(slug: "h20") { policyDecisions(first: 100, after: $c) { edges { node { announcedOn } } } } }',
        { c: cursor },
      );
      expect(h20.errors).toBeUndefined();
      const announcedOn = page.data.chip.policyDecisions.edges[0].node.announcedOn;
      for (const edge of h20.data.chip.policyDecisions.edges) {
        expect(edge.node.announcedOn <= announcedOn).toBe(true);
      }
      const root = await post(app(), '{ policyDecisions(first: 1) { pageInfo { endCursor } } }');
      const ascending = await post(
        app(),
        'query ($c: String) { policyDecisions(first: 3, after: $c, orderBy: ANNOUNCED_ON_ASC, filter: { jurisdiction: ["CN"] }) { edges { node { slug } } } }',
        { c: root.data.policyDecisions.pageInfo.endCursor },
      );
      expect(ascending.errors).toBeUndefined();
      // After the newest decision, in ascending order, nothing follows.
      expect(ascending.data.policyDecisions.edges).toEqual([]);
    },
  );

  it.each(PATHS)(
    '%s: cursors of earlier formats that do not name their list are refused, saying to start again',
    async (_name, app) => {
      const b64 = (text: string) => Buffer.from(text).toString('base64');
      for (const [query, cursor] of [
        ['query ($c: String) { chips(after: $c) { totalCount } }', b64('cg1:["H200","h200"]')],
        [
          'query ($c: String) { policyDecisions(after: $c) { totalCount } }',
          b64('cg1:["2026-01-14","us-whitehouse-2026-01-14-proclamation-11002"]'),
        ],
        [
          'query ($c: String) { chip(slug: "h200") { policyDecisions(after: $c) { totalCount } } }',
          b64('DC:T:["S:2026-01-14","S:us-whitehouse-2026-01-14-proclamation-11002","N:1","N:2"]'),
        ],
      ] as const) {
        const result = await post(app(), query, { c: cursor });
        expect(codes(result)).toEqual(['BAD_USER_INPUT']);
        expect(result.errors?.[0]?.message).toMatch(
          /is a cursor of an earlier version, which does not say which list issued it; fetch the first page again/,
        );
      }
      // `Timeline:` was only ever issued by the timeline: still good there, refused elsewhere.
      const timeline = await post(app(), '{ timeline(first: 2) { edges { cursor } } }');
      const current = Buffer.from(timeline.data.timeline.edges[0].cursor, 'base64').toString();
      const legacy = b64(`Timeline:${current.slice(current.indexOf('['))}`);
      const next = await post(
        app(),
        'query ($c: String) { timeline(first: 1, after: $c) { edges { cursor } } }',
        { c: legacy },
      );
      expect(next.errors).toBeUndefined();
      expect(next.data.timeline.edges[0].cursor).toBe(timeline.data.timeline.edges[1].cursor);
      const elsewhere = await post(
        app(),
        'query ($c: String) { policyDecisions(after: $c) { totalCount } }',
        { c: legacy },
      );
      expect(codes(elsewhere)).toEqual(['BAD_USER_INPUT']);
    },
  );
});

describe('the lists cursors are issued for', () => {
  it('each list has its own name, and all its orders read the same columns', () => {
    const declared = Object.values(lists) as ListDeclaration[];
    expect(new Set(declared.map((list) => list.name)).size).toBe(declared.length);
    expect(declared.map((list) => list.name).sort()).toEqual(
      Object.keys(LISTS)
        .filter((name) => name !== 'Query.timeline')
        .sort(),
    );
    // A cursor names its list, not the order of its page: it must mean the same row in each.
    for (const list of declared) {
      const columns = Object.values(list.orders).map((order) =>
        order.keys.map((key) => `${key.column}:${key.part}`).join(),
      );
      expect(new Set(columns).size, list.name).toBe(1);
    }
  });
});
