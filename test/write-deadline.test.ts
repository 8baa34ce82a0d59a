/**
 * Writes have the database deadline of reads (server runs only: PGlite is in process, one
 * statement at a time, with no deadline). A mutation whose statement waits on a row lock held
 * by another transaction answers 503 DATABASE_UNAVAILABLE at `CHIPGATE_DATABASE_TIMEOUT_MS`
 * instead of waiting until the lock is released; its transaction rolls back (nothing of it is
 * stored), and the same request sent again once the lock is gone succeeds, an idempotency key
 * included.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from './helpers/database.js';
import { createKey, type TestKey } from './helpers/keys.js';
import { RECORD_SIGNAL } from './helpers/queries.js';
import { type InProcessGateway, postGraphQL, startInProcessGateway } from './helpers/server.js';

/** Deadline of the gateway under test, in ms. */
const DEADLINE_MS = 1_000;
const UPDATE_STATUS = /* GraphQL */ `
  mutation ($input: UpdatePolicyDecisionStatusInput!) {
    updatePolicyDecisionStatus(input: $input) {
      __typename
      ... on UpdatePolicyDecisionStatusSuccess { decision { slug status } }
    }
  }`;

const DECISION = 'us-whitehouse-2025-12-08-h200-approval';

describe.runIf(backend === 'postgres')('a write that waits on a row lock', () => {
  let gateway: InProcessGateway;
  let holder: postgres.Sql;
  let key: TestKey;

  beforeAll(async () => {
    gateway = await startInProcessGateway({ CHIPGATE_DATABASE_TIMEOUT_MS: String(DEADLINE_MS) });
    const url = (gateway.running.db as { url?: string }).url ?? '';
    holder = postgres(url, { max: 2, onnotice: () => {} });
    key = await createKey(gateway.running.db.db, ['write']);
  }, 60_000);

  afterAll(async () => {
    await holder?.end({ timeout: 1 });
    await gateway?.stop();
  });

  /** Runs `during` while another transaction holds `lock` (a `select ... for update`). */
  async function whileLocked<T>(lock: string, during: () => Promise<T>): Promise<T> {
    const reserved = await holder.reserve();
    try {
      await reserved`begin`;
      await reserved.unsafe(lock);
      return await during();
    } finally {
      await reserved`rollback`;
      reserved.release();
    }
  }

  it('a status change answers 503 DATABASE_UNAVAILABLE and changes nothing; sent again later it applies', async () => {
    const history = () =>
      holder<{ count: number }[]>`
        select count(*)::int as count from policy_decision_updates u
        join policy_decisions d on d.id = u.decision_id where d.slug = ${DECISION}`;
    const [before] = await history();
    const input = { slug: DECISION, status: 'SUSPENDED', note: 'under a held lock' };
    const refused = await whileLocked(
      `select id from policy_decisions where slug = '${DECISION}' for update`,
      // postGraphQL gives up after 10 s: a write that waits for the lock fails the test there.
      () => postGraphQL(gateway.url, UPDATE_STATUS, { input }, key.headers),
    );
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.body.errors).toEqual([
      expect.objectContaining({
        extensions: { code: 'DATABASE_UNAVAILABLE' },
        path: ['updatePolicyDecisionStatus'],
      }),
    ]);
    expect(JSON.stringify(refused.body)).not.toMatch(/select|statement timeout|policy_decisions/i);
    const [status] = await holder<{ status: string }[]>`
      select status from policy_decisions where slug = ${DECISION}`;
    expect(status?.status).not.toBe('SUSPENDED');
    expect(await history()).toEqual([before]);

    const applied = await postGraphQL(gateway.url, UPDATE_STATUS, { input }, key.headers);
    expect(applied.status).toBe(200);
    expect(applied.body.data.updatePolicyDecisionStatus).toEqual({
      __typename: 'UpdatePolicyDecisionStatusSuccess',
      decision: { slug: DECISION, status: 'SUSPENDED' },
    });
    expect(await history()).toEqual([{ count: (before?.count ?? 0) + 1 }]);
  }, 60_000);

  it('a create with an idempotencyKey answers 503 and stores nothing; the retry records it once', async () => {
    const input = {
      slug: 'ds-write-deadline',
      companies: ['bytedance'],
      kind: 'ORDER',
      observedOn: '2026-02-01',
      idempotencyKey: 'write-deadline-1',
    };
    // The signal's company link checks its company row (a key-share lock), which waits here.
    const refused = await whileLocked(
      `select id from companies where slug = 'bytedance' for update`,
      () => postGraphQL(gateway.url, RECORD_SIGNAL, { input }, key.headers),
    );
    expect(refused.status).toBe(503);
    expect(refused.body.errors?.[0]?.extensions).toEqual({ code: 'DATABASE_UNAVAILABLE' });
    const stored = () =>
      holder<{ signals: number; keys: number }[]>`
        select (select count(*)::int from demand_signals where slug = 'ds-write-deadline') as signals,
               (select count(*)::int from idempotency_keys where key = 'write-deadline-1') as keys`;
    expect(await stored()).toEqual([{ signals: 0, keys: 0 }]);

    const retried = await postGraphQL(gateway.url, RECORD_SIGNAL, { input }, key.headers);
    expect(retried.body.data.recordDemandSignal).toEqual({
      __typename: 'RecordDemandSignalSuccess',
      demandSignal: { slug: 'ds-write-deadline' },
    });
    expect(await stored()).toEqual([{ signals: 1, keys: 1 }]);
  }, 60_000);
});
