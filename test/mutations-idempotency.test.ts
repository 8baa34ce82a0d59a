/**
 * Idempotent mutations against a real database: retries answer the first result with
 * `replayed: true`, a reused key with other input is a conflict, concurrent retries write once,
 * and keys are scoped per API key.
 */
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client.js';
import { recordDemandSignal } from '../src/db/writes/demand-signals.js';
import { createPolicyDecision } from '../src/db/writes/policy-decisions.js';
import { createKey, rowCounts } from './helpers/keys.js';
import { CREATE, decision, describe, expect, RECORD, test } from './helpers/mutations.js';

describe('idempotencyKey', () => {
  test('a retry returns the first result without writing again', async ({ gateway, mutate }) => {
    const input = decision({
      idempotencyKey: 'retry-1',
      chips: [{ chip: 'h200', effect: 'PERMITTED' }],
    });
    const first = await mutate(CREATE, input);
    expect(first.replayed).toBe(false);
    const before = await rowCounts(gateway.database.db);
    const second = await mutate(CREATE, input);
    expect(second).toEqual({ ...first, replayed: true });
    expect(await rowCounts(gateway.database.db)).toEqual(before);
  });

  test('an explicit default (confidence: RECALLED) is the same input as leaving it out', async ({
    mutate,
  }) => {
    const input = decision({ idempotencyKey: 'explicit-default' });
    const first = await mutate(CREATE, input);
    const second = await mutate(CREATE, { ...input, confidence: 'RECALLED' });
    expect(second).toEqual({ ...first, replayed: true });
  });

  test('the same key with a different input is a ConflictError', async ({ mutate, refused }) => {
    const input = decision({ idempotencyKey: 'retry-2' });
    await mutate(CREATE, input);
    const result = await refused(CREATE, { ...input, title: 'Another title' });
    expect(result.__typename).toBe('ConflictError');
    expect(result.message).toMatch(
      /"retry-2" was used in the last 24 hours with a different input/,
    );
  });

  test('keys are per mutation: the same key on recordDemandSignal is independent', async ({
    mutate,
  }) => {
    await mutate(CREATE, decision({ idempotencyKey: 'shared-key' }));
    const result = await mutate(RECORD, {
      slug: 'ds-shared-key',
      companies: ['bytedance'],
      kind: 'ORDER',
      observedOn: '2026-02-01',
      idempotencyKey: 'shared-key',
    });
    expect(result).toMatchObject({ __typename: 'RecordDemandSignalSuccess', replayed: false });
  });

  test('keys belong to the API key that sent them: another client with the same key is not replayed', async ({
    gateway,
    mutate,
  }) => {
    const other = await createKey(gateway.database.db, ['write'], 'another client');
    await mutate(CREATE, decision({ slug: 'idem-first-client', idempotencyKey: 'same-words' }));
    const { data } = await gateway.execute(
      CREATE,
      { input: decision({ slug: 'idem-second-client', idempotencyKey: 'same-words' }) },
      other.headers,
    );
    expect(data?.createPolicyDecision).toMatchObject({
      __typename: 'CreatePolicyDecisionSuccess',
      replayed: false,
      decision: { slug: 'idem-second-client' },
    });
  });

  test('concurrent retries create once and all get the same decision', async ({
    gateway,
    mutate,
  }) => {
    const input = decision({ idempotencyKey: 'concurrent-1' });
    const before = await rowCounts(gateway.database.db);
    const results = await Promise.all([1, 2, 3].map(() => mutate(CREATE, input)));
    expect(results.map((r) => r.__typename)).toEqual(Array(3).fill('CreatePolicyDecisionSuccess'));
    expect(results.map((r) => r.replayed).sort()).toEqual([false, true, true]);
    expect(new Set(results.map((r) => r.decision.slug))).toEqual(new Set([input.slug]));
    const after = await rowCounts(gateway.database.db);
    expect(after.policy_decisions).toBe(before.policy_decisions + 1);
    expect(after.idempotency_keys).toBe(before.idempotency_keys + 1);
  });

  test('after 24 hours a key can be used for a new request; expired keys are deleted', async ({
    gateway,
    mutate,
  }) => {
    const first = decision({ idempotencyKey: 'old-key' });
    await mutate(CREATE, first);
    await mutate(CREATE, decision({ idempotencyKey: 'stale-key' }));
    await gateway.database.db.execute(
      sql`update idempotency_keys set created_at = now() - interval '25 hours'
           where key in ('old-key', 'stale-key')`,
    );
    const second = await mutate(CREATE, decision({ idempotencyKey: 'old-key' }));
    expect(second).toMatchObject({ __typename: 'CreatePolicyDecisionSuccess', replayed: false });
    expect(second.decision.slug).not.toBe(first.slug);
    const kept = await queryRows<{ key: string; fresh: boolean }>(
      gateway.database.db,
      sql`select key, created_at > now() - interval '1 minute' as fresh from idempotency_keys
           where key in ('old-key', 'stale-key')`,
    );
    expect(kept).toEqual([{ key: 'old-key', fresh: true }]);
  });
});

describe('idempotency keys per API key', () => {
  // The write functions take the requesting API key's id; the resolvers pass ctx.viewer's.
  test('another API key reusing a key gets its own result, not the first client’s', async ({
    gateway,
    writer,
  }) => {
    const db = gateway.database.db;
    const other = await createKey(db, ['write'], 'second client');
    const mine = decision({ idempotencyKey: 'k1' });
    const theirs = decision({ idempotencyKey: 'k1' });
    const first = await createPolicyDecision(db, mine as never, writer.id);
    expect(first).toMatchObject({ replayed: false, decision: { slug: mine.slug } });
    const before = await rowCounts(db);
    const second = await createPolicyDecision(db, theirs as never, other.id);
    expect(second).toMatchObject({ replayed: false, decision: { slug: theirs.slug } });
    expect(await rowCounts(db)).toEqual({
      ...before,
      policy_decisions: before.policy_decisions + 1,
      policy_decision_updates: before.policy_decision_updates + 1,
      idempotency_keys: before.idempotency_keys + 1,
    });
    // Each client's retry still replays its own result.
    expect(await createPolicyDecision(db, mine as never, writer.id)).toMatchObject({
      replayed: true,
      decision: { slug: mine.slug },
    });
    await expect(
      createPolicyDecision(db, { ...theirs, title: 'Changed' } as never, other.id),
    ).rejects.toThrow(/"k1" was used in the last 24 hours with a different input/);

    const signal = { companies: ['alibaba'], kind: 'INTEREST', observedOn: '2026-02-03' } as const;
    const a = await recordDemandSignal(
      db,
      { ...signal, slug: 'ds-scoped-a', idempotencyKey: 'k1' } as never,
      writer.id,
    );
    const b = await recordDemandSignal(
      db,
      { ...signal, slug: 'ds-scoped-b', idempotencyKey: 'k1' } as never,
      other.id,
    );
    expect([a.replayed, a.demandSignal.slug, b.replayed, b.demandSignal.slug]).toEqual([
      false,
      'ds-scoped-a',
      false,
      'ds-scoped-b',
    ]);
  });
});
