/** Operations shared by several tests. */

/** The reference query of the foundation issue; the benchmark loads the gateway with it. */
export { NESTED_QUERY } from '../../bench/workload.js';

/** Status changes with the decision's slug, jurisdiction and chips; filter and after optional. */
export const UPDATES = /* GraphQL */ `
  subscription Updates($filter: PolicyDecisionFilter, $after: String) {
    policyDecisionUpdated(filter: $filter, after: $after) {
      fromStatus
      toStatus
      note
      eventCursor
      decision { slug jurisdiction chips { chip { slug } effect } }
    }
  }
`;

/** New demand signals with their chip and companies; filter and after optional. */
export const SIGNALS = /* GraphQL */ `
  subscription Signals($filter: DemandSignalFilter, $after: String) {
    demandSignalRecorded(filter: $filter, after: $after) {
      slug
      kind
      observedOn
      quantityUnits
      chip { slug name }
      companies { slug }
    }
  }
`;

/** Records a demand signal; answers its type name and, on success, the signal's slug. */
export const RECORD_SIGNAL = /* GraphQL */ `
  mutation RecordSignal($input: RecordDemandSignalInput!) {
    recordDemandSignal(input: $input) {
      __typename
      ... on RecordDemandSignalSuccess { demandSignal { slug } }
    }
  }
`;

/** `upsertChip` with the chip's die area on success and the field errors of a refusal. */
export const UPSERT_CHIP = /* GraphQL */ `
  mutation ($input: UpsertChipInput!) {
    upsertChip(input: $input) {
      __typename
      ... on UpsertChipSuccess { chip { slug dieAreaMm2 } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }`;

/** The Chinese import deliberation's status and history, and the stored company and decision counts. */
export const DELIBERATION = /* GraphQL */ `{
  policyDecision(slug: "cn-2025-12-09-h200-import-deliberation") {
    status
    updates { fromStatus toStatus occurredAt }
  }
  companies(first: 100) { totalCount }
  policyDecisions(first: 100) { totalCount }
}`;
