/**
 * Every connection over the store as a test reaches it: a query paging it after `$c`, and where
 * its connection sits in the data, by the name its cursors carry.
 */

/** A list's page after `$c`: the query and where its connection is in the data. */
export interface ListPage {
  query: string;
  page: (data: any) => any;
}

const PAGE = '(first: 2, after: $c) { pageInfo { endCursor } }';
const rootList = (field: string): ListPage => ({
  query: `query ($c: String) { l: ${field}${PAGE} }`,
  page: (data) => data.l,
});
const relatedList = (parent: string, slug: string, field: string): ListPage => ({
  query: `query ($c: String) { p: ${parent}(slug: "${slug}") { l: ${field}${PAGE} } }`,
  page: (data) => data.p.l,
});

/** Every connection over the store, by the name its cursors carry. */
export const LIST_PAGES: Record<string, ListPage> = {
  'Query.companies': rootList('companies'),
  'Query.chips': rootList('chips'),
  'Query.policyDecisions': rootList('policyDecisions'),
  'Query.demandSignals': rootList('demandSignals'),
  'Query.timeline': rootList('timeline'),
  'Company.chipsDesigned': relatedList('company', 'nvidia', 'chipsDesigned'),
  'Company.demandSignals': relatedList('company', 'nvidia', 'demandSignals'),
  'Company.policyDecisions': relatedList('company', 'nvidia', 'policyDecisions'),
  'Chip.demandSignals': relatedList('chip', 'h200', 'demandSignals'),
  'Chip.policyDecisions': relatedList('chip', 'h200', 'policyDecisions'),
};
