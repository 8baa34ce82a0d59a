/** Operations shared by several tests. */

/** The reference query of the foundation issue (also the benchmark's). */
export const NESTED_QUERY = /* GraphQL */ `
  query Nested($first: Int!) {
    companies(first: $first) { edges { node {
      slug name country
      chipsDesigned(first: 10) { edges { node {
        slug name tpp designer { slug }
        policyDecisions(first: 10) { edges { effect node { slug title status announcedOn jurisdiction } } }
      } } }
      demandSignals(first: 10) { edges { node { slug kind observedOn valueUsd } } }
    } } }
  }
`;
