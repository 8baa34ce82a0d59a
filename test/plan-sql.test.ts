/**
 * The SQL the planned read path sends for representative operations, as snapshots (statement
 * text and parameters, `__snapshots__/plan-sql.test.ts.snap`), so a lost predicate or a
 * changed plan shows in review. The same snapshots hold on PGlite and on PostgreSQL: the
 * planner writes one text for both. Each operation also runs at page size 1 and 50: the
 * same statements (same texts, same count), only the page size parameter differs.
 *
 * Every operation names its dates (`asOf`, filters), so no parameter depends on today.
 */
import { STORY_QUERY } from '../src/story.js';
import { describe, expect, test } from './helpers/fixtures.js';
import type { TestGateway } from './helpers/gateway.js';
import { globalId } from './helpers/operations.js';
import { NESTED_QUERY } from './helpers/queries.js';

const unplanned: string[] = [];
test.override('gatewayOptions', {
  planner: 'on',
  onUnplanned: (reason) => unplanned.push(reason),
});

/**
 * The statements one request sends, in order: the text (as lines broken before its clauses,
 * so a review diff shows which clause changed; joined by single spaces they are the exact
 * text) and the parameters, sent through `gateway`.
 */
async function statementsOf(
  gateway: TestGateway,
  query: string,
  variables: Record<string, unknown>,
) {
  gateway.statements.reset();
  const response = await gateway.execute(query, variables);
  const statements = gateway.statements.statements.map((text, i) => ({
    sql: text.split(/ (?=(?:from|where|left join|join|order by|limit|union all) )/),
    params: gateway.statements.params[i],
  }));
  return { response, statements };
}

const BACKWARDS = /* GraphQL */ `
  query Backwards($first: Int!, $before: String) {
    demandSignals(last: $first, before: $before, filter: { observedFrom: "2025-01-01" }) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { slug observedOn companies { slug } chip { slug } } }
    }
  }
`;

/** Representative operations; `$first` is the page size the count check varies. */
const OPERATIONS: {
  name: string;
  query: string;
  variables?: (gateway: TestGateway) => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Errors the operation answers by design (external sources are not configured here). */
  errorCodes?: string[];
}[] = [
  {
    name: 'reference query',
    query: NESTED_QUERY,
  },
  {
    name: 'story query',
    // The story has fixed page sizes; the wrapper varies nothing but runs the same text.
    query: STORY_QUERY.replace('query H200Story {', 'query H200Story($first: Int) {').replace(
      'demandSignals(first: 10)',
      'demandSignals(first: $first)',
    ),
  },
  {
    name: 'filtered, ordered connection',
    query: /* GraphQL */ `
      query Filtered($first: Int!) {
        policyDecisions(
          first: $first
          orderBy: ANNOUNCED_ON_ASC
          filter: {
            jurisdiction: ["US"]
            destination: "CN"
            status: [IN_EFFECT, APPROVED, SUPERSEDED]
            kind: [EXPORT_RULE, LICENSE]
            chip: "h20"
            announcedFrom: "2023-01-01"
            announcedTo: "2026-12-31"
          }
        ) {
          totalCount
          pageInfo { hasNextPage endCursor }
          edges { cursor node { slug announcedOn status kind chips { effect chip { slug } } } }
        }
      }
    `,
  },
  {
    name: 'backwards page',
    query: BACKWARDS,
    variables: async (gateway) => {
      const { data } = await gateway.execute(
        `{ demandSignals(first: 3, filter: { observedFrom: "2025-01-01" }) { edges { cursor } } }`,
      );
      return { before: data.demandSignals.edges[2].cursor };
    },
  },
  {
    name: 'timeline',
    query: /* GraphQL */ `
      query Timeline($first: Int) {
        timeline(first: $first, filter: { company: "nvidia", jurisdiction: ["US", "CN"], from: "2025-01-01", to: "2026-03-01" }) {
          totalCount
          edges {
            cursor
            node {
              __typename
              ... on Node { id }
              ... on PolicyDecision { slug announcedOn }
              ... on PolicyDecisionUpdate { fromStatus toStatus occurredAt decision { slug } }
              ... on DemandSignal { slug observedOn }
            }
          }
        }
      }
    `,
  },
  {
    name: 'nodes of every type',
    query: /* GraphQL */ `
      query Nodes($ids: [ID!]!, $first: Int) {
        nodes(ids: $ids) {
          __typename
          id
          ... on Company { slug chipsDesigned(first: $first) { totalCount edges { node { slug } } } }
          ... on Chip { slug tpp }
          ... on PolicyDecision { slug status }
          ... on DemandSignal { slug kind }
        }
      }
    `,
    variables: () => ({
      ids: [
        globalId('Company', 'nvidia'),
        globalId('Chip', 'h200'),
        globalId('PolicyDecision', 'us-bis-2023-10-17'),
        globalId('DemandSignal', 'ds-2026-01-28-h200-400k-approved'),
        globalId('Chip', 'no-such-chip'),
      ],
    }),
  },
  {
    name: 'exportStatus with asOf',
    query: /* GraphQL */ `
      query Status($first: Int) {
        chips(first: $first, filter: { designer: "nvidia" }) {
          edges {
            node {
              slug
              exportStatus(asOf: "2026-01-20") {
                asOf from to exportEffect importEffect
                exportDecision { slug } importDecision { slug } chip { slug }
              }
              back: exportStatus(from: "CN", to: "US", asOf: "2025-12-10") { exportEffect importEffect }
            }
          }
        }
      }
    `,
  },
  {
    name: 'store and sources',
    query: /* GraphQL */ `
      query Mixed($first: Int) {
        policyDecisions(first: $first, filter: { jurisdiction: ["US"], kind: [EXPORT_RULE] }) {
          edges {
            node {
              slug
              federalRegisterDocumentNumber
              federalRegisterDocument { title }
              companies { slug financials { note } }
            }
          }
        }
      }
    `,
    // No sources in this test: the source fields answer their error, the store part its rows.
    errorCodes: ['SOURCE_NOT_CONFIGURED'],
  },
];

describe('planned SQL', () => {
  test.for(OPERATIONS)('$name', async ({ query, variables, errorCodes }, { gateway }) => {
    const extra = (await variables?.(gateway)) ?? {};
    const small = await statementsOf(gateway, query, { ...extra, first: 1 });
    const large = await statementsOf(gateway, query, { ...extra, first: 50 });
    for (const { response } of [small, large]) {
      expect(response.status, JSON.stringify(response.errors)).toBe(200);
      const codes = new Set(
        (response.errors ?? []).map((e) => (e.extensions as { code?: string } | undefined)?.code),
      );
      expect([...codes]).toEqual(errorCodes ?? []);
      expect(response.data).toBeTruthy();
    }
    // Constant in page size: the same statements, only parameters differ.
    expect(large.statements.map((s) => s.sql)).toEqual(small.statements.map((s) => s.sql));
    expect(small.statements.length).toBeGreaterThan(0);
    expect(small.statements).toMatchSnapshot();
  });

  test('answered every operation from a plan', () => {
    expect(unplanned).toEqual([]);
  });
});
