/**
 * The benchmarked requests. A `Workload` is one GraphQL document with the variable sets sent in
 * turn, and the hand-written SQL "floor" that answers the same requests with one
 * JSON-aggregating statement each. This file holds the reference workload (the nested query:
 * companies -> chips -> decisions with the link's effect, and companies -> demand signals);
 * `hot-workload.ts` holds the dashboard-like one.
 */
import { isDeepStrictEqual } from 'node:util';

/** A parameter of a floor statement: a number, a text array, or null. */
export type FloorParam = number | string[] | null;

/** One benchmarked operation, as the gateway receives it and as the floor answers it. */
export interface Workload {
  /** `reference` (the nested query, one variable set) or `hot` (varying variables). */
  name: 'reference' | 'hot';
  /** What it is, for the report. */
  title: string;
  /** The GraphQL document, as clients send it. */
  query: string;
  operationName: string;
  /** The variables of successive requests, sent in turn (a fixed, small set). */
  variableSets: readonly Record<string, unknown>[];
  /** One statement returning the whole response as text in a column `body`. */
  floorSql: string;
  /**
   * The floor's SQL parameters for one request's `variables`; throws a plain `Error` (the floor
   * answers 400) when they are not what the document accepts.
   */
  floorParams(variables: Record<string, unknown>): FloorParam[];
}

/** The nested query, as clients send it. */
export const NESTED_QUERY = /* GraphQL */ `query Nested($first: Int!) {
  companies(first: $first) { edges { node {
    slug name country
    chipsDesigned(first: 10) { edges { node {
      slug name tpp designer { slug }
      policyDecisions(first: 10) { edges { effect node { slug title status announcedOn jurisdiction } } }
    } } }
    demandSignals(first: 10) { edges { node { slug kind observedOn valueUsd } } }
  } } }
}`;

/** Page size of the root connection. */
export const FIRST = 50;

/** Headers of every benchmark request. */
export const REQUEST_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json',
} as const;

/** The POST bodies of a workload, one per variable set, in the order they are sent. */
export function requestBodies(workload: Workload): string[] {
  return workload.variableSets.map((variables) =>
    JSON.stringify({ query: workload.query, variables, operationName: workload.operationName }),
  );
}

/** `value` as a page size the API accepts (0..100); throws otherwise. */
export function pageSize(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
    throw new Error('variables.first must be a whole number from 0 to 100');
  }
  return value;
}

/**
 * The floor: the whole response of `NESTED_QUERY` as one SQL statement, `$1` = `first`.
 * Same orderings as the API (companies by name, slug; chips by name, slug; a chip's decisions
 * by announcement desc, slug desc; a company's signals by observation desc, slug desc), at most
 * 10 nested items each. A chip's designer is the company it is listed under (that is what
 * `chipsDesigned` means), so its slug needs no join. `numeric` goes out as text (the API's
 * `Decimal`), and the result is returned as text so the driver does not parse it.
 */
export const FLOOR_SQL = `
select json_build_object('data', json_build_object('companies', json_build_object('edges',
  coalesce(json_agg(json_build_object('node', json_build_object(
    'slug', co.slug,
    'name', co.name,
    'country', co.country,
    'chipsDesigned', json_build_object('edges', ch.edges),
    'demandSignals', json_build_object('edges', ds.edges)
  )) order by co.name, co.slug), '[]'::json))))::text as body
from (
  select id, slug, name, country from companies order by name, slug limit $1
) co
cross join lateral (
  select coalesce(json_agg(json_build_object('node', json_build_object(
    'slug', c.slug,
    'name', c.name,
    'tpp', c.tpp,
    'designer', json_build_object('slug', co.slug),
    'policyDecisions', json_build_object('edges', pd.edges)
  )) order by c.name, c.slug), '[]'::json) as edges
  from (
    select id, slug, name, tpp from chips where designer_id = co.id order by name, slug limit 10
  ) c
  cross join lateral (
    select coalesce(json_agg(json_build_object(
      'effect', d.effect,
      'node', json_build_object(
        'slug', d.slug,
        'title', d.title,
        'status', d.status,
        'announcedOn', d.announced_on,
        'jurisdiction', d.jurisdiction
      )
    ) order by d.announced_on desc, d.slug desc), '[]'::json) as edges
    from (
      select l.effect, p.slug, p.title, p.status, p.announced_on, p.jurisdiction
      from policy_decision_chips l join policy_decisions p on p.id = l.decision_id
      where l.chip_id = c.id
      order by p.announced_on desc, p.slug desc
      limit 10
    ) d
  ) pd
) ch
cross join lateral (
  select coalesce(json_agg(json_build_object('node', json_build_object(
    'slug', s.slug,
    'kind', s.kind,
    'observedOn', s.observed_on,
    'valueUsd', s.value_usd::text
  )) order by s.observed_on desc, s.slug desc), '[]'::json) as edges
  from (
    select sig.slug, sig.kind, sig.observed_on, sig.value_usd
    from demand_signal_companies dsc join demand_signals sig on sig.id = dsc.signal_id
    where dsc.company_id = co.id
    order by sig.observed_on desc, sig.slug desc
    limit 10
  ) s
) ds`;

/** The reference workload: `NESTED_QUERY` with `first: 50`, about 800 records at S=10. */
export const REFERENCE_WORKLOAD: Workload = {
  name: 'reference',
  title: `reference query (companies(first: ${FIRST}) -> chips -> decisions, -> signals)`,
  query: NESTED_QUERY,
  operationName: 'Nested',
  variableSets: [{ first: FIRST }],
  floorSql: FLOOR_SQL,
  floorParams: (variables) => [pageSize(variables.first)],
};

/**
 * Whether a response body is a GraphQL result with `data` and without `errors`. A cheap test
 * on the text, since it runs on every response of a load run (in the load generator's process,
 * which shares the machine with the server): the body must start with a `data` object and
 * contain no `"errors"` key. JSON escapes quotes inside strings, so `"errors"` can only appear
 * as a key or as a value equal to `errors`, which no benchmarked field holds.
 */
export function isDataWithoutErrors(body: string): boolean {
  return /^\s*\{\s*"data"\s*:\s*\{/.test(body) && !body.includes('"errors"');
}

/**
 * Counts the records in a response: every `node` object under a connection's `edges`
 * (companies, their chips, the chips' decisions, the companies' signals).
 */
export function countRecords(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + countRecords(item), 0);
  if (value === null || typeof value !== 'object') return 0;
  let count = 0;
  for (const [key, child] of Object.entries(value)) {
    if (key === 'node' && child !== null && typeof child === 'object') count += 1;
    count += countRecords(child);
  }
  return count;
}

/** How two response bodies compare. */
export interface Comparison {
  /** Byte-for-byte identical. */
  identical: boolean;
  /** Equal as JSON values (object key order ignored, array order not). */
  equal: boolean;
  /** The first differing path, when not equal. */
  firstDifference?: string;
}

/** Compares two JSON response bodies. */
export function compareBodies(a: string, b: string): Comparison {
  const left: unknown = JSON.parse(a);
  const right: unknown = JSON.parse(b);
  const equal = isDeepStrictEqual(left, right);
  const difference = equal ? undefined : firstDifference(left, right, '$');
  return {
    identical: a === b,
    equal,
    ...(difference === undefined ? {} : { firstDifference: difference }),
  };
}

function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) {
    return `${path}: ${a.length} items vs ${b.length}`;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) {
    const found = firstDifference(left[key], right[key], `${path}.${key}`);
    if (found) return found;
  }
  return `${path}: differs`;
}
