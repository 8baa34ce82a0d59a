/** Relay global IDs: `node` and `nodes` round-trip every type; bad IDs are rejected cleanly. */
import { sql } from 'drizzle-orm';
import {
  type GraphQLInputType,
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { queryRows } from '../src/db/client.js';
import { GLOBAL_ID_KEYS, TEXT_LIMITS } from '../src/db/limits.js';
import { maxLengthOf } from '../src/input-limits.js';
import { schema } from '../src/schema/index.js';
import { bothReadPaths, executeOn } from './helpers/gateway.js';

const both = bothReadPaths();

const b64 = (text: string) => Buffer.from(text).toString('base64');

const NODE = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on Company { slug name }
      ... on Chip { slug name }
      ... on PolicyDecision { slug title }
      ... on DemandSignal { slug kind }
      ... on PolicyDecisionUpdate { toStatus decision { slug } }
    }
  }
`;

describe('node', () => {
  it.each([
    ['Company', 'nvidia', { slug: 'nvidia', name: 'NVIDIA Corporation' }],
    ['Chip', 'h200', { slug: 'h200', name: 'NVIDIA H200 (SXM)' }],
    [
      'PolicyDecision',
      'us-whitehouse-2025-12-08-h200-approval',
      { slug: 'us-whitehouse-2025-12-08-h200-approval' },
    ],
    [
      'DemandSignal',
      'ds-2026-01-28-h200-400k-approved',
      { slug: 'ds-2026-01-28-h200-400k-approved', kind: 'ORDER' },
    ],
  ])('round-trips a %s: the id it returns fetches it again', async (type, slug, expected) => {
    const id = b64(`${type}:${slug}`);
    const { data, errors } = await both.gateway.execute(NODE, { id });
    expect(errors).toBeUndefined();
    expect(data.node).toMatchObject({ __typename: type, id, ...expected });
    // The id a lookup returns is the same global id.
    const lookup = type.charAt(0).toLowerCase() + type.slice(1);
    const again = await both.gateway.execute(`{ ${lookup}(slug: "${slug}") { id } }`);
    expect(again.data[lookup].id).toBe(id);
  });

  it('round-trips a PolicyDecisionUpdate by its row id', async () => {
    const [row] = await queryRows<{ id: string }>(
      both.gateway.database.db,
      sql`select u.id::text as id from policy_decision_updates u join policy_decisions d on d.id = u.decision_id
          where d.slug = 'cn-2025-12-09-h200-import-deliberation' and u.to_status = 'SUPERSEDED'`,
    );
    const id = b64(`PolicyDecisionUpdate:${row?.id}`);
    const { data } = await both.gateway.execute(NODE, { id });
    expect(data.node).toEqual({
      __typename: 'PolicyDecisionUpdate',
      id,
      toStatus: 'SUPERSEDED',
      decision: { slug: 'cn-2025-12-09-h200-import-deliberation' },
    });
    const history = await both.gateway.execute(
      `{ policyDecision(slug: "cn-2025-12-09-h200-import-deliberation") { updates { id } } }`,
    );
    expect(history.data.policyDecision.updates.map((u: any) => u.id)).toContain(id);
  });

  it('returns null for a well-formed id whose row does not exist', async () => {
    for (const id of [b64('Company:no-such-company'), b64('PolicyDecisionUpdate:999999999')]) {
      const { data, errors } = await both.gateway.execute(NODE, { id });
      expect(errors).toBeUndefined();
      expect(data.node).toBeNull();
    }
  });

  it.each([
    ['not base64', 'not base64!'],
    ['base64 without a type', b64('nvidia')],
    ['an unknown type', b64('Listing:nvda')],
    ['an empty key', b64('Company:')],
    ['a malformed key', b64('Company:NVIDIA Corp')],
    ['a non-numeric update id', b64('PolicyDecisionUpdate:abc')],
    ['an empty string', ''],
    ['a JavaScript built-in as the type', b64('__proto__:x')],
    ['"constructor" as the type', b64('constructor:x')],
  ])('rejects %s with BAD_USER_INPUT', async (_label, id) => {
    const { data, errors } = await both.gateway.execute(NODE, { id });
    expect(data).toEqual({ node: null });
    expect(errors).toHaveLength(1);
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errors?.[0]?.path).toEqual(['node']);
  });
});

describe('nodes', () => {
  it('answers in the order asked, null for unknown ids and an error only at malformed positions', async () => {
    const ids = [
      b64('Chip:h200'),
      'garbage',
      b64('Company:nvidia'),
      b64('Chip:no-such-chip'),
      b64('Company:'),
    ];
    const { data, errors } = await both.gateway.execute(
      /* GraphQL */ `query ($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on Chip { slug } ... on Company { slug } } }`,
      { ids },
    );
    expect(data.nodes).toEqual([
      { __typename: 'Chip', slug: 'h200' },
      null,
      { __typename: 'Company', slug: 'nvidia' },
      null,
      null,
    ]);
    expect(errors?.map((e) => [e.path, e.extensions?.code])).toEqual([
      [['nodes', 1], 'BAD_USER_INPUT'],
      [['nodes', 4], 'BAD_USER_INPUT'],
    ]);
  });

  it('loads many ids of one type with one statement', async () => {
    both.gateway.statements.reset();
    const ids = ['a100', 'h100', 'h200', 'h20', 'b200'].map((slug) => b64(`Chip:${slug}`));
    const { data } = await both.gateway.execute(
      /* GraphQL */ `query ($ids: [ID!]!) { nodes(ids: $ids) { ... on Chip { slug designer { slug } } } }`,
      { ids },
    );
    expect(data.nodes.map((n: any) => n.slug)).toEqual(['a100', 'h100', 'h200', 'h20', 'b200']);
    expect(data.nodes.every((n: any) => n.designer.slug === 'nvidia')).toBe(true);
    expect(both.gateway.statements.count).toBe(1);
  });
});

describe("IDs longer than any object's", () => {
  /** Both read paths: the planner (the gateway's default) and the resolvers. */
  const PATHS = both.paths;

  /** A well-formed decision ID with a slug of `length` characters (the longest type's). */
  const decisionId = (length: number) => b64(`PolicyDecision:${'a'.repeat(length)}`);

  it('the bound is the longest ID any object can have, derived from the key limits', () => {
    const longest = decisionId(GLOBAL_ID_KEYS.PolicyDecision);
    expect(TEXT_LIMITS.globalId).toBe(longest.length);
    expect(TEXT_LIMITS.globalId).toBe(156);
    for (const [type, key] of Object.entries(GLOBAL_ID_KEYS)) {
      expect(b64(`${type}:${'1'.repeat(key)}`).length, type).toBeLessThanOrEqual(longest.length);
    }
  });

  it.each(PATHS)(
    '%s: refused in node and nodes before any SQL; the longest valid one is looked up',
    async (_name, app) => {
      // The shortest well-formed `Type:key` longer than the bound (base64 pads to 4 characters).
      let extra = 1;
      while (decisionId(GLOBAL_ID_KEYS.PolicyDecision + extra).length <= TEXT_LIMITS.globalId) {
        extra++;
      }
      const tooLong = [decisionId(GLOBAL_ID_KEYS.PolicyDecision + extra), 'A'.repeat(400)];
      for (const id of tooLong) {
        for (const [query, variables] of [
          [NODE, { id }],
          ['query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: [b64('Chip:h200'), id] }],
          [`{ node(id: "${id}") { id } }`, {}],
          [`{ nodes(ids: ["${b64('Chip:h200')}", "${id}"]) { id } }`, {}],
        ] as const) {
          both.gateway.statements.reset();
          const result = await executeOn(app(), query, variables);
          const where = `${query.slice(0, 30)} ${id.length}`;
          expect(result.data, where).toBeUndefined();
          expect(
            result.errors?.map((e) => e.extensions?.code),
            where,
          ).toEqual(['BAD_USER_INPUT']);
          expect(result.errors?.[0]?.message, where).toMatch(
            new RegExp(`must be at most ${TEXT_LIMITS.globalId} characters \\(got ${id.length}\\)`),
          );
          expect(both.gateway.statements.statements, where).toEqual([]);
        }
      }
      // Within the bound but its key too long for any row: malformed, at its position, no SQL.
      const keyTooLong = decisionId(GLOBAL_ID_KEYS.PolicyDecision + 1);
      expect(keyTooLong.length).toBeLessThanOrEqual(TEXT_LIMITS.globalId);
      both.gateway.statements.reset();
      const malformed = await executeOn(app(), NODE, { id: keyTooLong });
      expect(malformed.data).toEqual({ node: null });
      expect(malformed.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([
        [['node'], 'BAD_USER_INPUT'],
      ]);
      expect(both.gateway.statements.statements).toEqual([]);
      // At the bound: a well-formed ID of no object, looked up and answered null.
      const longest = decisionId(GLOBAL_ID_KEYS.PolicyDecision);
      const found = await executeOn(app(), NODE, { id: longest });
      expect(found.errors).toBeUndefined();
      expect(found.data).toEqual({ node: null });
    },
  );

  it('every ID argument and input field of the schema declares the bound', () => {
    const inputs: string[] = [];
    const visit = (where: string, type: GraphQLInputType, max: number | undefined) => {
      if (getNamedType(type).name === 'ID') {
        expect(max, where).toBe(TEXT_LIMITS.globalId);
        inputs.push(where);
      }
    };
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const field of Object.values(type.getFields())) {
          for (const arg of field.args) {
            visit(`${type.name}.${field.name}(${arg.name})`, arg.type, maxLengthOf(arg));
          }
        }
      } else if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          visit(`${type.name}.${field.name}`, field.type, maxLengthOf(field));
        }
      }
    }
    expect(inputs.sort()).toEqual(['Query.node(id)', 'Query.nodes(ids)']);
  });
});
