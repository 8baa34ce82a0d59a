/**
 * The dashboard's operations: the only GraphQL it sends. The build (vite.config.ts) registers
 * nothing by itself: it writes `persisted-documents.json` ({ "<sha256>": "<document>" }) next
 * to the page, which `npm run chipgate -- documents add --key ID` registers for the
 * dashboard's read key; the page then sends only the hashes (`documentId`).
 *
 * Edit these, rebuild, and register the new manifest before deploying the new page.
 */

/** The chips to choose from (name order, as the gateway sorts them). */
export const DASHBOARD_CHIPS = /* GraphQL */ `query DashboardChips {
  chips(first: 100) {
    edges { node { slug name designer { name } } }
  }
}`;

/**
 * One chip: its export status today (U.S. to China), the decisions naming it with their
 * effect on it and status history (the chart and the feed's history), and each decision's
 * sources (`sourceUrl`, the Federal Register document) in a deferred fragment, so the page
 * shows the store's answer before the Federal Register answers.
 */
export const DASHBOARD_CHIP = /* GraphQL */ `query DashboardChip($slug: String!) {
  chip(slug: $slug) {
    slug
    name
    designer { name }
    exportStatus {
      asOf
      exportEffect
      importEffect
      exportDecision { slug title }
      importDecision { slug title }
    }
    policyDecisions(first: 50) {
      totalCount
      edges {
        effect
        node {
          slug
          title
          authority
          jurisdiction
          status
          announcedOn
          effectiveOn
          updates { id fromStatus toStatus note occurredAt }
          ...DecisionSources @defer(label: "sources")
        }
      }
    }
  }
}

fragment DecisionSources on PolicyDecision {
  sourceUrl
  confidence
  federalRegisterCitation
  federalRegisterDocument { documentNumber title htmlUrl publicationDate }
}`;

/**
 * Status changes of the decisions naming a chip, as they commit. `after` is the last
 * `eventCursor` received: a resumed subscription first replays what was missed.
 */
export const DASHBOARD_FEED = /* GraphQL */ `subscription DashboardFeed($chip: String!, $after: String) {
  policyDecisionUpdated(filter: { chip: $chip }, after: $after) {
    id
    eventCursor
    fromStatus
    toStatus
    note
    occurredAt
    decision { slug title jurisdiction }
  }
}`;

/** Every operation of the dashboard, by operation name. */
export const OPERATIONS = {
  DashboardChips: DASHBOARD_CHIPS,
  DashboardChip: DASHBOARD_CHIP,
  DashboardFeed: DASHBOARD_FEED,
} as const;

/** An operation name of the dashboard. */
export type OperationName = keyof typeof OPERATIONS;
