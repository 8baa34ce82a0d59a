/**
 * updatePolicyDecisionStatus against a real database: the status transition table (written out
 * here independently of the code's), history rows with note and occurredAt, and the statements a
 * status change costs.
 */
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client.js';
import { rowCounts } from './helpers/keys.js';
import { CREATE, decision, describe, expect, paths, test, UPDATE } from './helpers/mutations.js';

/** The allowed changes, written out independently of the code's table. */
const ALLOWED: Record<string, string[]> = {
  PROPOSED: ['UNDER_REVIEW', 'APPROVED', 'IN_EFFECT', 'REJECTED', 'RESCINDED', 'SUPERSEDED'],
  UNDER_REVIEW: ['APPROVED', 'IN_EFFECT', 'REJECTED', 'RESCINDED', 'SUPERSEDED'],
  APPROVED: ['IN_EFFECT', 'SUSPENDED', 'SUPERSEDED', 'RESCINDED'],
  IN_EFFECT: ['SUSPENDED', 'SUPERSEDED', 'RESCINDED'],
  SUSPENDED: ['APPROVED', 'IN_EFFECT', 'SUPERSEDED', 'RESCINDED'],
  SUPERSEDED: [],
  RESCINDED: [],
  REJECTED: [],
};

/** The article before each status in messages, by how it is read. */
const ARTICLE: Record<string, string> = {
  PROPOSED: 'A',
  UNDER_REVIEW: 'An',
  APPROVED: 'An',
  IN_EFFECT: 'An',
  SUSPENDED: 'A',
  SUPERSEDED: 'A',
  RESCINDED: 'A',
  REJECTED: 'A',
};

describe('updatePolicyDecisionStatus', () => {
  test('changes the status and records note and occurredAt in the history', async ({
    gateway,
    mutate,
  }) => {
    const before = await rowCounts(gateway.database.db);
    const result = await mutate(UPDATE, {
      slug: 'us-whitehouse-2025-12-08-h200-approval',
      status: 'IN_EFFECT',
      note: 'Licenses issued',
      occurredAt: '2026-01-20T09:30:00+01:00',
    });
    expect(result).toEqual({
      __typename: 'UpdatePolicyDecisionStatusSuccess',
      decision: { slug: 'us-whitehouse-2025-12-08-h200-approval', status: 'IN_EFFECT' },
      update: {
        fromStatus: 'APPROVED',
        toStatus: 'IN_EFFECT',
        occurredAt: '2026-01-20T08:30:00.000Z',
        note: 'Licenses issued',
        decision: { slug: 'us-whitehouse-2025-12-08-h200-approval' },
      },
    });
    expect(await rowCounts(gateway.database.db)).toEqual({
      ...before,
      policy_decision_updates: before.policy_decision_updates + 1,
    });
    // The settings were transaction-local: a plain SQL status change afterwards gets none.
    await gateway.database.db.execute(
      sql`update policy_decisions set status = 'SUSPENDED' where slug = 'us-whitehouse-2025-12-08-h200-approval'`,
    );
    const [last] = await queryRows<{ note: string | null; recent: boolean }>(
      gateway.database.db,
      sql`select note, occurred_at > now() - interval '1 minute' as recent from policy_decision_updates
           order by id desc limit 1`,
    );
    expect(last).toEqual({ note: null, recent: true });
  });

  test('defaults occurredAt to now', async ({ mutate }) => {
    const slug = (await mutate(CREATE, decision())).decision.slug;
    const start = Date.now();
    const result = await mutate(UPDATE, { slug, status: 'UNDER_REVIEW' });
    const at = Date.parse(result.update.occurredAt);
    expect(at).toBeGreaterThanOrEqual(start - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1000);
  });

  test('an unknown slug is a NotFoundError', async ({ refused }) => {
    const result = await refused(UPDATE, { slug: 'no-such-decision', status: 'IN_EFFECT' });
    expect(result).toEqual({
      __typename: 'NotFoundError',
      message: 'No policy decision "no-such-decision".',
    });
  });

  test('refuses the same status, a back-dated change and a change in the future', async ({
    mutate,
    refused,
  }) => {
    const slug = 'us-bis-2026-01-13-h200-license-review-policy';
    const same = await refused(UPDATE, { slug, status: 'IN_EFFECT' });
    expect(paths(same)).toEqual([['input', 'status']]);
    expect(same.fieldErrors[0].message).toBe('The decision is already IN_EFFECT.');

    const backdated = await refused(UPDATE, {
      slug,
      status: 'SUSPENDED',
      occurredAt: '2026-01-12T23:59:59Z',
    });
    expect(paths(backdated)).toEqual([['input', 'occurredAt']]);
    expect(backdated.fieldErrors[0].message).toMatch(
      /before the decision's latest status change \(2026-01-13T00:00:00.000Z\)/,
    );

    const future = await refused(UPDATE, {
      slug,
      status: 'SUSPENDED',
      occurredAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(paths(future)).toEqual([['input', 'occurredAt']]);

    for (const occurredAt of ['0050-03-01T00:00:00Z', '1899-12-31T23:59:59Z']) {
      const early = await refused(UPDATE, { slug, status: 'SUSPENDED', occurredAt });
      expect(early.fieldErrors).toEqual([
        {
          path: ['input', 'occurredAt'],
          message: expect.stringMatching(/^Must be between 1900-01-01 and 2199-12-31 \(got /),
        },
      ]);
    }

    // The same instant as the latest change is not back-dated.
    const sameInstant = await mutate(UPDATE, {
      slug,
      status: 'SUSPENDED',
      occurredAt: '2026-01-13T00:00:00Z',
    });
    expect(sameInstant.__typename).toBe('UpdatePolicyDecisionStatusSuccess');
  });

  test('allows exactly the transitions of the table, and writes nothing when it refuses', async ({
    gateway,
    mutate,
    statusOf,
  }) => {
    const statuses = Object.keys(ALLOWED);
    const outcomes: Record<string, string[]> = {};
    for (const from of statuses) {
      outcomes[from] = [];
      for (const to of statuses) {
        if (to === from) continue;
        const slug = (await mutate(CREATE, decision({ status: from }))).decision.slug;
        const before = await rowCounts(gateway.database.db);
        const result = await mutate(UPDATE, {
          slug,
          status: to,
          occurredAt: '2021-06-01T00:00:00Z',
        });
        if (result.__typename === 'UpdatePolicyDecisionStatusSuccess') {
          outcomes[from]?.push(to);
          expect(result.update).toMatchObject({ fromStatus: from, toStatus: to });
        } else {
          expect(result.__typename).toBe('ValidationError');
          expect(paths(result)).toEqual([['input', 'status']]);
          expect(result.fieldErrors[0].message).toMatch(
            `${ARTICLE[from]} ${from} decision cannot become ${to}`,
          );
          expect(await rowCounts(gateway.database.db)).toEqual(before);
          expect(await statusOf(slug)).toBe(from);
        }
      }
    }
    const sorted = (table: Record<string, string[]>) =>
      Object.fromEntries(Object.entries(table).map(([from, to]) => [from, [...to].sort()]));
    expect(sorted(outcomes)).toEqual(sorted(ALLOWED));
  }, 120_000);

  test('costs a fixed number of statements', async ({ gateway, mutate }) => {
    const slug = (await mutate(CREATE, decision({ status: 'APPROVED' }))).decision.slug;
    gateway.statements.reset();
    await mutate(UPDATE, { slug, status: 'IN_EFFECT' });
    // The key (1); lock and read the decision with its latest change (1); the trigger's
    // settings (1); the update (1); the new history row (1); the payload's decision and update
    // fields, one batched load each (2). BEGIN/COMMIT are not logged.
    expect(gateway.statements.count).toBe(7);
  });
});
