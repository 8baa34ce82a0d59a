/**
 * What the mutation tests share: the five mutations' documents with their typed errors, a
 * minimal valid decision input, and fixtures over the file's gateway (`mutate`, `refused`,
 * `statusOf`). Each test file gets its own gateway and database (see `fixtures.ts`).
 */
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.js';
import { test as base, describe, expect } from './fixtures.js';
import { rowCounts } from './keys.js';

/** The fields every mutation error answers. */
const ERROR_FIELDS = `... on Error { __typename message } ... on ValidationError { fieldErrors { path message } }`;

export const CREATE = /* GraphQL */ `
  mutation ($input: CreatePolicyDecisionInput!) {
    createPolicyDecision(input: $input) {
      __typename
      ... on CreatePolicyDecisionSuccess {
        replayed
        decision {
          slug status announcedOn effectiveOn jurisdiction destinations confidence
          chips { chip { slug } effect }
          companies { slug }
          supersedes { slug status }
          updates { fromStatus toStatus occurredAt note }
        }
      }
      ${ERROR_FIELDS}
    }
  }`;

export const UPDATE = /* GraphQL */ `
  mutation ($input: UpdatePolicyDecisionStatusInput!) {
    updatePolicyDecisionStatus(input: $input) {
      __typename
      ... on UpdatePolicyDecisionStatusSuccess {
        decision { slug status }
        update { fromStatus toStatus occurredAt note decision { slug } }
      }
      ${ERROR_FIELDS}
    }
  }`;

export const RECORD = /* GraphQL */ `
  mutation ($input: RecordDemandSignalInput!) {
    recordDemandSignal(input: $input) {
      __typename
      ... on RecordDemandSignalSuccess {
        replayed
        demandSignal { slug kind observedOn quantityUnits valueUsd chip { slug } companies { slug } eventCursor }
      }
      ${ERROR_FIELDS}
    }
  }`;

export const UPSERT_COMPANY = /* GraphQL */ `
  mutation ($input: UpsertCompanyInput!) {
    upsertCompany(input: $input) {
      __typename
      ... on UpsertCompanySuccess {
        created
        company { slug name country roles secCik secFilerType ticker listings { ticker primary } }
      }
      ${ERROR_FIELDS}
    }
  }`;

export const UPSERT_CHIP = /* GraphQL */ `
  mutation ($input: UpsertChipInput!) {
    upsertChip(input: $input) {
      __typename
      ... on UpsertChipSuccess {
        created
        chip { slug name designer { slug } foundry { slug } derivedFrom { slug } tdpWatts tpp architecture }
      }
      ${ERROR_FIELDS}
    }
  }`;

/** The paths of a `ValidationError`'s field errors. */
export const paths = (result: { fieldErrors: { path: string[] }[] }) =>
  result.fieldErrors.map((e) => e.path);

let serial = 0;
/** A number not used before in this file (for fresh slugs). */
export const nextSerial = (): number => ++serial;
/** A minimal valid decision input with a fresh slug. */
export const decision = (overrides: Record<string, unknown> = {}) => ({
  slug: `test-decision-${++serial}`,
  title: 'Test decision',
  jurisdiction: 'US',
  destinations: ['CN'],
  authority: 'BIS',
  kind: 'LICENSE',
  status: 'PROPOSED',
  announcedOn: '2020-01-01',
  ...overrides,
});

/**
 * The shared fixtures plus this file's helpers over its gateway: `mutate` runs a mutation with
 * the write key and returns its one root field's result; `refused` runs one that must fail with
 * a typed error and write nothing (row counts) and returns the error; `statusOf` reads a
 * decision's stored status by slug (undefined if there is none).
 */
export const test = base
  .extend(
    'mutate',
    { scope: 'file' },
    async ({ gateway, writer }) =>
      async (query: string, input: Record<string, unknown>): Promise<any> => {
        const { data, errors } = await gateway.execute(query, { input }, writer.headers);
        expect(errors).toBeUndefined();
        return Object.values(data ?? {})[0];
      },
  )
  .extend(
    'refused',
    { scope: 'file' },
    async ({ gateway, mutate }) =>
      async (query: string, input: Record<string, unknown>): Promise<any> => {
        const before = await rowCounts(gateway.database.db);
        const result = await mutate(query, input);
        expect(await rowCounts(gateway.database.db)).toEqual(before);
        return result;
      },
  )
  .extend(
    'statusOf',
    { scope: 'file' },
    async ({ gateway }) =>
      async (slug: string): Promise<string | undefined> =>
        (
          await queryRows<{ status: string }>(
            gateway.database.db,
            sql`select status from policy_decisions where slug = ${slug}`,
          )
        )[0]?.status,
  );

export { describe, expect };
