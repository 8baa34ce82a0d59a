/**
 * The hot operation: one document sent all day by a partner dashboard with varying variables
 * (jurisdictions, statuses, page size), answered by the gateway and by a hand-written floor.
 * The variable sets are fixed and few, as a dashboard's filters are; some leave a filter field
 * null (no condition), which a planner may key as a separate plan shape.
 */
import { policyStatus } from '../src/db/schema.js';
import { pageSize, type Workload } from './workload.js';

/** The dashboard's document: a filtered page of decisions, each with its chips and companies. */
export const HOT_QUERY = /* GraphQL */ `query Hot($jurisdiction: [CountryCode!], $status: [PolicyStatus!], $first: Int!) {
  policyDecisions(filter: { jurisdiction: $jurisdiction, status: $status }, first: $first) {
    totalCount
    pageInfo { hasNextPage }
    edges { node {
      slug title kind status announcedOn jurisdiction destinations
      chips { effect chip { slug name tpp designer { slug name country } } }
      companies { slug name }
    } }
  }
}`;

/**
 * The requests' variables, sent in turn. With the generated data (jurisdiction and status both
 * follow the decision number) every set matches decisions at S=1 and above, and the pages hold
 * 5 to 50 decisions at S=10.
 */
export const HOT_VARIABLE_SETS: readonly Record<string, unknown>[] = [
  { jurisdiction: ['US'], status: null, first: 20 },
  { jurisdiction: ['CN'], status: ['UNDER_REVIEW', 'RESCINDED'], first: 20 },
  { jurisdiction: ['US', 'CN'], status: ['PROPOSED', 'UNDER_REVIEW', 'APPROVED'], first: 50 },
  { jurisdiction: ['NL', 'JP'], status: ['APPROVED', 'IN_EFFECT'], first: 10 },
  { jurisdiction: null, status: ['IN_EFFECT', 'APPROVED'], first: 50 },
  { jurisdiction: ['JP'], status: ['SUSPENDED'], first: 10 },
  { jurisdiction: null, status: null, first: 50 },
  { jurisdiction: ['US', 'CN', 'NL', 'JP'], status: ['REJECTED', 'SUPERSEDED'], first: 20 },
];

const STATUSES = new Set<string>(policyStatus.enumValues);

/** A list variable of the filter: null (no condition) or strings that all pass `valid`. */
function listOf(value: unknown, name: string, valid: (item: string) => boolean): string[] | null {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && valid(item))) {
    throw new Error(`variables.${name} must be null or a list of valid values`);
  }
  return value as string[];
}

/**
 * The floor: the whole response of `HOT_QUERY` in one statement. `$1` jurisdictions and `$2`
 * statuses (text arrays, null for no condition), `$3` page size. Same orderings as the API:
 * decisions by announcement desc, slug desc; a decision's chips by chip id (the order the
 * chips were linked); its companies by name, slug. `hasNextPage` is whether more match than
 * the page holds, as there is no cursor.
 */
export const HOT_FLOOR_SQL = `
with matching as (
  select p.id, p.slug, p.title, p.kind, p.status, p.announced_on, p.jurisdiction, p.destinations
  from policy_decisions p
  where ($1::text[] is null or p.jurisdiction::text = any($1::text[]))
    and ($2::text[] is null or p.status::text = any($2::text[]))
),
total as (select count(*)::int as n from matching),
page as (select * from matching order by announced_on desc, slug desc limit $3)
select json_build_object('data', json_build_object('policyDecisions', json_build_object(
  'totalCount', (select n from total),
  'pageInfo', json_build_object('hasNextPage', (select n from total) > $3),
  'edges', coalesce((
    select json_agg(json_build_object('node', json_build_object(
      'slug', d.slug,
      'title', d.title,
      'kind', d.kind,
      'status', d.status,
      'announcedOn', d.announced_on,
      'jurisdiction', d.jurisdiction,
      'destinations', d.destinations,
      'chips', (
        select coalesce(json_agg(json_build_object(
          'effect', l.effect,
          'chip', json_build_object(
            'slug', c.slug,
            'name', c.name,
            'tpp', c.tpp,
            'designer', json_build_object('slug', co.slug, 'name', co.name, 'country', co.country)
          )
        ) order by l.chip_id), '[]'::json)
        from policy_decision_chips l
        join chips c on c.id = l.chip_id
        join companies co on co.id = c.designer_id
        where l.decision_id = d.id
      ),
      'companies', (
        select coalesce(json_agg(json_build_object('slug', co.slug, 'name', co.name)
          order by co.name, co.slug), '[]'::json)
        from policy_decision_companies pc join companies co on co.id = pc.company_id
        where pc.decision_id = d.id
      )
    )) order by d.announced_on desc, d.slug desc)
    from page d
  ), '[]'::json)
)))::text as body`;

/** The hot workload: `HOT_QUERY` cycling through `HOT_VARIABLE_SETS`. */
export const HOT_WORKLOAD: Workload = {
  name: 'hot',
  title: `hot operation (policyDecisions(filter, first), ${HOT_VARIABLE_SETS.length} variable sets in turn)`,
  query: HOT_QUERY,
  operationName: 'Hot',
  variableSets: HOT_VARIABLE_SETS,
  floorSql: HOT_FLOOR_SQL,
  floorParams: (variables) => [
    listOf(variables.jurisdiction, 'jurisdiction', (code) => /^[A-Z]{2}$/.test(code)),
    listOf(variables.status, 'status', (status) => STATUSES.has(status)),
    pageSize(variables.first),
  ],
};
