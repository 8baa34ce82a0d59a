/**
 * The query GraphiQL opens on: the H200 story in one request. It must stay within the default
 * query limits (a test runs it).
 */
export const STORY_QUERY = /* GraphQL */ `# The H200 story in one request: Washington approves Nvidia's H200 for China
# with a 25% revenue share, Beijing deliberates, customs blocks it, then approves a
# first batch while ByteDance, Alibaba and Tencent line up orders.
# Press the run button; change asOf to see the export status on another day.
query H200Story {
  chip(slug: "h200") {
    name
    tpp
    performanceDensity
    designer { name ticker }
    derivedFrom { name }
    exportControlNote
    before: exportStatus(asOf: "2025-12-10") { ...Status }
    blocked: exportStatus(asOf: "2026-01-20") { ...Status }
    approved: exportStatus(asOf: "2026-02-01") { ...Status }
    policyDecisions(first: 20, filter: { announcedFrom: "2025-12-01" }) {
      totalCount
      edges {
        effect
        node {
          slug
          title
          jurisdiction
          authority
          status
          announcedOn
          revenueSharePercent
          updates { fromStatus toStatus occurredAt }
        }
      }
    }
    demandSignals(first: 10) {
      edges {
        node { slug kind observedOn quantityUnits valueUsd summary companies { name } }
      }
    }
  }
  timeline(first: 40, filter: { chip: "h200", from: "2025-12-01" }) {
    totalCount
    edges {
      node {
        __typename
        ... on PolicyDecision { slug title jurisdiction announcedOn }
        ... on PolicyDecisionUpdate { occurredAt fromStatus toStatus decision { slug } }
        ... on DemandSignal { slug kind observedOn summary }
      }
    }
  }
}

fragment Status on ExportStatus {
  asOf
  exportEffect
  exportDecision { slug title }
  importEffect
  importDecision { slug title }
}
`;
