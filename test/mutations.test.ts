/**
 * The five mutations against a real database: success payloads, a typed error for each rule
 * with nothing written (row counts), the status transition table, history rows with note and
 * occurredAt, supersession, idempotency (retries, conflicts, concurrent retries), and the
 * statements a status change costs.
 */
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client.js';
import { recordDemandSignal } from '../src/db/writes/demand-signals.js';
import { createPolicyDecision } from '../src/db/writes/policy-decisions.js';
import { test as base, describe, expect } from './helpers/fixtures.js';
import { createKey, rowCounts } from './helpers/keys.js';

const ERROR_FIELDS = `... on Error { __typename message } ... on ValidationError { fieldErrors { path message } }`;

const CREATE = /* GraphQL */ `
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

const UPDATE = /* GraphQL */ `
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

const RECORD = /* GraphQL */ `
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

const UPSERT_COMPANY = /* GraphQL */ `
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

const UPSERT_CHIP = /* GraphQL */ `
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

const paths = (result: { fieldErrors: { path: string[] }[] }) =>
  result.fieldErrors.map((e) => e.path);

let serial = 0;
/** A minimal valid decision input with a fresh slug. */
const decision = (overrides: Record<string, unknown> = {}) => ({
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
const test = base
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

describe('createPolicyDecision', () => {
  test('creates the decision with its chips, companies and first history entry at announcedOn', async ({
    gateway,
    mutate,
  }) => {
    const before = await rowCounts(gateway.database.db);
    const result = await mutate(CREATE, {
      slug: 'us-bis-2026-03-02-test-rule',
      title: 'Test rule',
      jurisdiction: 'us',
      destinations: ['CN', 'MO'],
      authority: 'BIS',
      kind: 'EXPORT_RULE',
      status: 'IN_EFFECT',
      announcedOn: '2026-03-02',
      effectiveOn: '2026-03-02',
      chips: [
        { chip: 'h20', effect: 'LICENSE_REQUIRED' },
        { chip: 'mi308', effect: 'BANNED' },
      ],
      companies: ['nvidia', 'amd'],
      confidence: 'VERIFIED',
    });
    expect(result).toEqual({
      __typename: 'CreatePolicyDecisionSuccess',
      replayed: false,
      decision: {
        slug: 'us-bis-2026-03-02-test-rule',
        status: 'IN_EFFECT',
        announcedOn: '2026-03-02',
        effectiveOn: '2026-03-02',
        jurisdiction: 'US',
        destinations: ['CN', 'MO'],
        confidence: 'VERIFIED',
        chips: expect.arrayContaining([
          { chip: { slug: 'h20' }, effect: 'LICENSE_REQUIRED' },
          { chip: { slug: 'mi308' }, effect: 'BANNED' },
        ]),
        companies: expect.arrayContaining([{ slug: 'nvidia' }, { slug: 'amd' }]),
        supersedes: null,
        updates: [
          {
            fromStatus: null,
            toStatus: 'IN_EFFECT',
            occurredAt: '2026-03-02T00:00:00.000Z',
            note: null,
          },
        ],
      },
    });
    expect(result.decision.chips).toHaveLength(2);
    expect(result.decision.companies).toHaveLength(2);
    const after = await rowCounts(gateway.database.db);
    expect(after).toEqual({
      ...before,
      policy_decisions: before.policy_decisions + 1,
      policy_decision_chips: before.policy_decision_chips + 2,
      policy_decision_companies: before.policy_decision_companies + 2,
      policy_decision_updates: before.policy_decision_updates + 1,
    });
  });

  test('refuses each invalid field with a ValidationError at its path, writing nothing', async ({
    refused,
  }) => {
    const cases: [Record<string, unknown>, string[], RegExp][] = [
      [{ slug: 'Bad_Slug' }, ['input', 'slug'], /lower-case letters and digits/],
      [{ slug: 'a-'.repeat(50).concat('b') }, ['input', 'slug'], /at most 100 characters/],
      [{ slug: 'a--b' }, ['input', 'slug'], /single hyphens/],
      [{ title: '   ' }, ['input', 'title'], /blank/],
      [{ destinations: [] }, ['input', 'destinations'], /at least one/],
      [{ destinations: ['CN', 'CN'] }, ['input', 'destinations', '1'], /listed twice/],
      [
        { announcedOn: '2026-01-15', effectiveOn: '2026-01-14' },
        ['input', 'effectiveOn'],
        /not be before announcedOn \(2026-01-15\)/,
      ],
      [
        {
          chips: [
            { chip: 'h200', effect: 'PERMITTED' },
            { chip: 'h999', effect: 'BANNED' },
          ],
        },
        ['input', 'chips', '1', 'chip'],
        /No chip "h999"/,
      ],
      [
        {
          chips: [
            { chip: 'h200', effect: 'PERMITTED' },
            { chip: 'h200', effect: 'BANNED' },
          ],
        },
        ['input', 'chips', '1'],
        /listed twice/,
      ],
      [{ companies: ['no-such-co'] }, ['input', 'companies', '0'], /No company "no-such-co"/],
      [{ supersedes: 'no-such-decision' }, ['input', 'supersedes'], /No policy decision/],
      [{ slug: 'self-ref', supersedes: 'self-ref' }, ['input', 'supersedes'], /itself/],
      [{ idempotencyKey: '' }, ['input', 'idempotencyKey'], /1 to 200 characters/],
    ];
    for (const [overrides, path, message] of cases) {
      const result = await refused(CREATE, decision(overrides));
      expect(result.__typename, JSON.stringify(overrides)).toBe('ValidationError');
      expect(paths(result)).toEqual([path]);
      expect(result.fieldErrors[0].message).toMatch(message);
      expect(result.message).toMatch(/^Invalid input: /);
    }
  });

  test('lists every problem of one input at once: format problems, then unknown references', async ({
    refused,
  }) => {
    const result = await refused(
      CREATE,
      decision({
        slug: 'BAD',
        title: ' ',
        destinations: [],
        effectiveOn: '2019-12-31',
        chips: [
          { chip: 'nope', effect: 'BANNED' },
          { chip: 'h200', effect: 'PERMITTED' },
        ],
        companies: ['nvidia', 'zzz'],
        supersedes: 'no-such',
      }),
    );
    expect(result.__typename).toBe('ValidationError');
    expect(result.fieldErrors).toEqual([
      { path: ['input', 'slug'], message: expect.stringMatching(/lower-case letters/) },
      { path: ['input', 'title'], message: 'Must not be blank.' },
      { path: ['input', 'destinations'], message: expect.stringMatching(/at least one/) },
      { path: ['input', 'effectiveOn'], message: expect.stringMatching(/before announcedOn/) },
      { path: ['input', 'chips', '0', 'chip'], message: 'No chip "nope".' },
      { path: ['input', 'companies', '1'], message: 'No company "zzz".' },
      { path: ['input', 'supersedes'], message: 'No policy decision "no-such".' },
    ]);
    expect(result.message).toBe('Invalid input: 7 problems, see fieldErrors.');
  });

  test('reports a reference with its own problem once, as that problem', async ({ refused }) => {
    const result = await refused(
      CREATE,
      decision({
        slug: 'twice-and-self',
        title: ' ',
        chips: [
          { chip: 'nope', effect: 'BANNED' },
          { chip: 'nope', effect: 'PERMITTED' },
        ],
        supersedes: 'twice-and-self',
      }),
    );
    expect(result.fieldErrors).toEqual([
      { path: ['input', 'title'], message: 'Must not be blank.' },
      { path: ['input', 'chips', '1'], message: '"nope" is listed twice.' },
      { path: ['input', 'supersedes'], message: 'A decision cannot supersede itself.' },
      { path: ['input', 'chips', '0', 'chip'], message: 'No chip "nope".' },
    ]);
  });

  test('refuses dates outside 1900-01-01..2199-12-31 and an announcedOn after today', async ({
    mutate,
    refused,
  }) => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const cases: [Record<string, unknown>, string[], RegExp][] = [
      [
        { announcedOn: '0050-03-01' },
        ['input', 'announcedOn'],
        /^Must be between 1900-01-01 and 2199-12-31 \(got 0050-03-01\)\.$/,
      ],
      [{ announcedOn: '1899-12-31' }, ['input', 'announcedOn'], /between 1900-01-01 and/],
      [{ effectiveOn: '2200-01-01' }, ['input', 'effectiveOn'], /and 2199-12-31 \(got 2200/],
      [{ announcedOn: '2099-01-01' }, ['input', 'announcedOn'], /^Must not be in the future/],
      [{ announcedOn: tomorrow }, ['input', 'announcedOn'], /^Must not be in the future/],
    ];
    for (const [overrides, path, message] of cases) {
      const result = await refused(CREATE, decision(overrides));
      expect(result.__typename, JSON.stringify(overrides)).toBe('ValidationError');
      expect(paths(result)).toEqual([path]);
      expect(result.fieldErrors[0].message).toMatch(message);
    }
    // The bounds themselves, today, and an effectiveOn in the future are accepted.
    const today = new Date().toISOString().slice(0, 10);
    for (const overrides of [
      { announcedOn: '1900-01-01', effectiveOn: '2199-12-31' },
      { announcedOn: today, effectiveOn: tomorrow },
    ]) {
      const created = await mutate(CREATE, decision(overrides));
      expect(created.__typename).toBe('CreatePolicyDecisionSuccess');
      expect(created.decision).toMatchObject(overrides);
      expect(created.decision.updates[0].occurredAt).toBe(`${overrides.announcedOn}T00:00:00.000Z`);
    }
  });

  test('accepts only http: and https: source URLs (BAD_USER_INPUT in variables, validation failure as literals)', async ({
    gateway,
    writer,
    mutate,
  }) => {
    for (const sourceUrl of [
      'javascript:alert(1)',
      'data:text/html,<b>x</b>',
      'ftp://example.com/a',
    ]) {
      const before = await rowCounts(gateway.database.db);
      const { data, errors } = await gateway.execute(
        CREATE,
        { input: decision({ sourceUrl }) },
        writer.headers,
      );
      expect(data, sourceUrl).toBeUndefined();
      expect(errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      expect(errors?.[0]?.message).toMatch(/absolute http: or https: URL/);
      expect(await rowCounts(gateway.database.db)).toEqual(before);
    }
    const literal = (url: string) => /* GraphQL */ `
      mutation {
        createPolicyDecision(input: {
          slug: "literal-url-${++serial}", title: "T", jurisdiction: "US", destinations: ["CN"],
          authority: "BIS", kind: LICENSE, status: PROPOSED, announcedOn: "2020-01-01",
          sourceUrl: "${url}"
        }) { __typename }
      }`;
    const before = await rowCounts(gateway.database.db);
    const refusedLiteral = await gateway.execute(
      literal('javascript:alert(1)'),
      {},
      writer.headers,
    );
    expect(refusedLiteral.data).toBeUndefined();
    expect(refusedLiteral.errors?.map((e) => e.extensions?.code)).toEqual([
      'GRAPHQL_VALIDATION_FAILED',
    ]);
    expect(await rowCounts(gateway.database.db)).toEqual(before);
    const accepted = await gateway.execute(
      literal('https://www.bis.gov/rule?id=1'),
      {},
      writer.headers,
    );
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data).toEqual({
      createPolicyDecision: { __typename: 'CreatePolicyDecisionSuccess' },
    });
    const viaVariable = await mutate(CREATE, decision({ sourceUrl: 'http://example.com/a' }));
    expect(viaVariable.__typename).toBe('CreatePolicyDecisionSuccess');
  });

  test('refuses impossible dates and unknown enum values before any SQL, with BAD_USER_INPUT', async ({
    gateway,
    writer,
  }) => {
    for (const overrides of [
      { announcedOn: '2025-13-45' },
      { announcedOn: '2025-02-30' },
      { kind: 'DECREE' },
      { jurisdiction: 'XX' },
    ]) {
      const before = await rowCounts(gateway.database.db);
      gateway.statements.reset();
      const { data, errors } = await gateway.execute(
        CREATE,
        { input: decision(overrides) },
        writer.headers,
      );
      expect(data).toBeUndefined();
      expect(errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      // Only the key lookup ran.
      expect(gateway.statements.count).toBe(1);
      expect(await rowCounts(gateway.database.db)).toEqual(before);
    }
  });

  test('refuses a taken slug with a ConflictError', async ({ refused }) => {
    const result = await refused(
      CREATE,
      decision({ slug: 'us-whitehouse-2025-12-08-h200-approval' }),
    );
    expect(result).toEqual({
      __typename: 'ConflictError',
      message:
        'A policy decision with slug "us-whitehouse-2025-12-08-h200-approval" already exists.',
    });
  });

  test('two concurrent creates of one slug: one succeeds, the other conflicts and leaves nothing', async ({
    gateway,
    mutate,
  }) => {
    await mutate(CREATE, decision({ slug: 'race-older', status: 'IN_EFFECT' }));
    const before = await rowCounts(gateway.database.db);
    const input = decision({
      slug: 'race-newer',
      announcedOn: '2021-01-01',
      supersedes: 'race-older',
      chips: [{ chip: 'h20', effect: 'BANNED' }],
    });
    const results = await Promise.all([mutate(CREATE, input), mutate(CREATE, input)]);
    expect(results.map((r) => r.__typename).sort()).toEqual([
      'ConflictError',
      'CreatePolicyDecisionSuccess',
    ]);
    expect(await rowCounts(gateway.database.db)).toEqual({
      ...before,
      policy_decisions: before.policy_decisions + 1,
      policy_decision_chips: before.policy_decision_chips + 1,
      // The new decision's first status, and the older one's move to SUPERSEDED, once.
      policy_decision_updates: before.policy_decision_updates + 2,
    });
  });
});

describe('supersession', () => {
  test('moves the superseded decision to SUPERSEDED at the new announcedOn, with a note', async ({
    gateway,
    mutate,
  }) => {
    await mutate(
      CREATE,
      decision({ slug: 'old-rule', status: 'IN_EFFECT', announcedOn: '2024-05-01' }),
    );
    const result = await mutate(
      CREATE,
      decision({
        slug: 'new-rule',
        status: 'IN_EFFECT',
        announcedOn: '2025-06-01',
        supersedes: 'old-rule',
      }),
    );
    expect(result.decision.supersedes).toEqual({ slug: 'old-rule', status: 'SUPERSEDED' });
    const { data } = await gateway.execute(
      '{ policyDecision(slug: "old-rule") { status supersededBy { slug } updates { fromStatus toStatus occurredAt note } } }',
    );
    expect(data.policyDecision).toEqual({
      status: 'SUPERSEDED',
      supersededBy: { slug: 'new-rule' },
      updates: [
        {
          fromStatus: null,
          toStatus: 'IN_EFFECT',
          occurredAt: '2024-05-01T00:00:00.000Z',
          note: null,
        },
        {
          fromStatus: 'IN_EFFECT',
          toStatus: 'SUPERSEDED',
          occurredAt: '2025-06-01T00:00:00.000Z',
          note: 'Superseded by new-rule',
        },
      ],
    });
  });

  test('leaves a RESCINDED decision as it is (no history entry)', async ({ gateway, mutate }) => {
    const before = await rowCounts(gateway.database.db);
    const result = await mutate(
      CREATE,
      decision({ announcedOn: '2025-06-01', supersedes: 'us-bis-2025-01-13-ai-diffusion' }),
    );
    expect(result.decision.supersedes).toEqual({
      slug: 'us-bis-2025-01-13-ai-diffusion',
      status: 'RESCINDED',
    });
    const after = await rowCounts(gateway.database.db);
    expect(after.policy_decision_updates).toBe(before.policy_decision_updates + 1);
  });

  test('refuses a supersession dated before the older decision’s latest status change', async ({
    refused,
    statusOf,
  }) => {
    // The H200 approval was announced 2025-12-08; superseding it as of 2025-12-01 would put
    // SUPERSEDED before its first status.
    const result = await refused(
      CREATE,
      decision({ announcedOn: '2025-12-01', supersedes: 'us-whitehouse-2025-12-08-h200-approval' }),
    );
    expect(result.__typename).toBe('ValidationError');
    expect(paths(result)).toEqual([['input', 'supersedes']]);
    expect(result.fieldErrors[0].message).toMatch(/changed status at 2025-12-08T00:00:00.000Z/);
    expect(await statusOf('us-whitehouse-2025-12-08-h200-approval')).toBe('APPROVED');
  });
});

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

describe('recordDemandSignal', () => {
  test('records the signal with its companies in the order given', async ({ gateway, mutate }) => {
    const before = await rowCounts(gateway.database.db);
    const result = await mutate(RECORD, {
      slug: 'ds-2026-03-01-test-order',
      companies: ['tencent', 'alibaba', 'bytedance'],
      chip: 'h200',
      kind: 'ORDER',
      observedOn: '2026-03-01',
      quantityUnits: 20000,
      valueUsd: '650000000.50',
    });
    expect(result).toMatchObject({
      __typename: 'RecordDemandSignalSuccess',
      replayed: false,
      demandSignal: {
        slug: 'ds-2026-03-01-test-order',
        kind: 'ORDER',
        observedOn: '2026-03-01',
        quantityUnits: 20000,
        valueUsd: '650000000.50',
        chip: { slug: 'h200' },
        companies: [{ slug: 'tencent' }, { slug: 'alibaba' }, { slug: 'bytedance' }],
      },
    });
    expect(result.demandSignal.eventCursor).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(await rowCounts(gateway.database.db)).toEqual({
      ...before,
      demand_signals: before.demand_signals + 1,
      demand_signal_companies: before.demand_signal_companies + 3,
    });
  });

  test('refuses invalid input with a ValidationError at each path, writing nothing', async ({
    refused,
  }) => {
    const signal = (overrides: Record<string, unknown>) => ({
      slug: `ds-test-${++serial}`,
      companies: ['bytedance'],
      kind: 'INTEREST',
      observedOn: '2026-02-02',
      ...overrides,
    });
    const cases: [Record<string, unknown>, string[][]][] = [
      [{ companies: [] }, [['input', 'companies']]],
      [{ companies: ['bytedance', 'nobody'] }, [['input', 'companies', '1']]],
      [{ companies: ['bytedance', 'bytedance'] }, [['input', 'companies', '1']]],
      [{ chip: 'h999' }, [['input', 'chip']]],
      [{ quantityUnits: -5 }, [['input', 'quantityUnits']]],
      [{ valueUsd: '-5.5' }, [['input', 'valueUsd']]],
      [
        { slug: 'ds_bad', summary: ' ' },
        [
          ['input', 'slug'],
          ['input', 'summary'],
        ],
      ],
    ];
    for (const [overrides, expected] of cases) {
      const result = await refused(RECORD, signal(overrides));
      expect(result.__typename, JSON.stringify(overrides)).toBe('ValidationError');
      expect(paths(result)).toEqual(expected);
    }
    const taken = await refused(RECORD, signal({ slug: 'ds-2026-01-28-h200-400k-approved' }));
    expect(taken.__typename).toBe('ConflictError');
  });

  test('a retried record with the same idempotency key returns the first signal', async ({
    gateway,
    mutate,
    refused,
  }) => {
    const input = {
      slug: 'ds-idempotent',
      companies: ['alibaba'],
      kind: 'INTEREST',
      observedOn: '2026-02-03',
      idempotencyKey: 'ds-key-1',
    };
    const first = await mutate(RECORD, input);
    const before = await rowCounts(gateway.database.db);
    expect(await mutate(RECORD, input)).toEqual({ ...first, replayed: true });
    expect(await rowCounts(gateway.database.db)).toEqual(before);
    const conflict = await refused(RECORD, { ...input, slug: 'ds-idempotent-2' });
    expect(conflict.__typename).toBe('ConflictError');
  });

  test('an explicit null for an optional field replays like leaving it out', async ({
    gateway,
    mutate,
  }) => {
    const input = {
      slug: 'ds-idempotent-null',
      companies: ['alibaba'],
      kind: 'INTEREST',
      observedOn: '2026-02-03',
      idempotencyKey: 'ds-key-null',
    };
    const first = await mutate(RECORD, input);
    expect(first.replayed).toBe(false);
    const before = await rowCounts(gateway.database.db);
    const retry = await mutate(RECORD, {
      ...input,
      summary: null,
      chip: null,
      quantityUnits: null,
    });
    expect(retry).toEqual({ ...first, replayed: true });
    expect(await rowCounts(gateway.database.db)).toEqual(before);
  });

  test('refuses an observedOn outside 1900-2199 or after today, and lists unknown references with format problems', async ({
    refused,
  }) => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const base = { companies: ['bytedance'], kind: 'INTEREST' };
    for (const [observedOn, message] of [
      ['1899-12-31', /^Must be between 1900-01-01 and 2199-12-31 \(got 1899-12-31\)\.$/],
      ['0050-03-01', /between 1900-01-01 and 2199-12-31/],
      [tomorrow, /^Must not be in the future/],
    ] as const) {
      const result = await refused(RECORD, { ...base, slug: `ds-date-${++serial}`, observedOn });
      expect(result.fieldErrors).toEqual([
        { path: ['input', 'observedOn'], message: expect.stringMatching(message) },
      ]);
    }
    const mixed = await refused(RECORD, {
      slug: 'DS_BAD',
      companies: ['zzz', 'bytedance'],
      chip: 'nope',
      kind: 'INTEREST',
      observedOn: '2026-02-02',
    });
    expect(mixed.fieldErrors).toEqual([
      { path: ['input', 'slug'], message: expect.stringMatching(/lower-case letters/) },
      { path: ['input', 'companies', '0'], message: 'No company "zzz".' },
      { path: ['input', 'chip'], message: 'No chip "nope".' },
    ]);
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

describe('upsertCompany', () => {
  test('creates, then updates only the fields given; null clears; CIKs are padded on output', async ({
    gateway,
    mutate,
  }) => {
    const created = await mutate(UPSERT_COMPANY, {
      slug: 'test-cloud',
      name: 'Test Cloud Ltd',
      country: 'sg',
      roles: ['BUYER'],
      secCik: '0000123456',
      secFilerType: 'foreign (20-F)',
      listings: [
        { ticker: 'TCL2', exchange: 'SGX', primary: false },
        { ticker: 'TCL', exchange: 'NASDAQ', primary: true },
      ],
      confidence: 'RECALLED',
    });
    expect(created).toEqual({
      __typename: 'UpsertCompanySuccess',
      created: true,
      company: {
        slug: 'test-cloud',
        name: 'Test Cloud Ltd',
        country: 'SG',
        roles: ['BUYER'],
        secCik: '0000123456',
        secFilerType: 'foreign (20-F)',
        ticker: 'TCL',
        listings: [
          { ticker: 'TCL', primary: true },
          { ticker: 'TCL2', primary: false },
        ],
      },
    });
    const [stored] = await queryRows<{ sec_cik: string }>(
      gateway.database.db,
      sql`select sec_cik from companies where slug = 'test-cloud'`,
    );
    expect(stored?.sec_cik).toBe('123456');

    const updated = await mutate(UPSERT_COMPANY, {
      slug: 'test-cloud',
      name: 'Test Cloud Holdings',
      country: 'SG',
      roles: ['BUYER', 'DESIGNER'],
      secFilerType: null,
      confidence: 'VERIFIED',
    });
    expect(updated).toEqual({
      __typename: 'UpsertCompanySuccess',
      created: false,
      company: {
        slug: 'test-cloud',
        name: 'Test Cloud Holdings',
        country: 'SG',
        roles: ['BUYER', 'DESIGNER'],
        secCik: '0000123456',
        secFilerType: null,
        ticker: 'TCL',
        listings: [
          { ticker: 'TCL', primary: true },
          { ticker: 'TCL2', primary: false },
        ],
      },
    });
  });

  test('refuses invalid fields, writing nothing', async ({ refused }) => {
    const company = (overrides: Record<string, unknown>) => ({
      slug: 'test-invalid-co',
      name: 'X',
      country: 'US',
      roles: ['BUYER'],
      confidence: 'RECALLED',
      ...overrides,
    });
    const cases: [Record<string, unknown>, string[][]][] = [
      [{ slug: 'Nope' }, [['input', 'slug']]],
      [{ name: '' }, [['input', 'name']]],
      [{ roles: [] }, [['input', 'roles']]],
      [{ roles: ['BUYER', 'BUYER'] }, [['input', 'roles', '1']]],
      [{ secCik: 'CIK123' }, [['input', 'secCik']]],
      [
        {
          listings: [
            { ticker: 'A', exchange: 'X', primary: true },
            { ticker: ' ', exchange: 'Y', primary: true },
          ],
        },
        [
          ['input', 'listings', '1', 'ticker'],
          ['input', 'listings'],
        ],
      ],
    ];
    for (const [overrides, expected] of cases) {
      const result = await refused(UPSERT_COMPANY, company(overrides));
      expect(result.__typename, JSON.stringify(overrides)).toBe('ValidationError');
      expect(paths(result)).toEqual(expected);
    }
  });
});

describe('upsertChip', () => {
  test('creates a chip with its references, then corrects it', async ({ mutate }) => {
    const created = await mutate(UPSERT_CHIP, {
      slug: 'h20e',
      name: 'NVIDIA H20E',
      designer: 'nvidia',
      foundry: 'tsmc',
      derivedFrom: 'h20',
      tdpWatts: 400,
      tpp: 2368,
      confidence: 'RECALLED',
    });
    expect(created).toEqual({
      __typename: 'UpsertChipSuccess',
      created: true,
      chip: {
        slug: 'h20e',
        name: 'NVIDIA H20E',
        designer: { slug: 'nvidia' },
        foundry: { slug: 'tsmc' },
        derivedFrom: { slug: 'h20' },
        tdpWatts: 400,
        tpp: 2368,
        architecture: null,
      },
    });
    const updated = await mutate(UPSERT_CHIP, {
      slug: 'h20e',
      name: 'NVIDIA H20E',
      designer: 'nvidia',
      foundry: null,
      architecture: 'Hopper',
      confidence: 'VERIFIED',
    });
    expect(updated.created).toBe(false);
    expect(updated.chip).toEqual({ ...created.chip, foundry: null, architecture: 'Hopper' });
  });

  test('refuses invalid fields and unknown references, writing nothing', async ({ refused }) => {
    const chip = (overrides: Record<string, unknown>) => ({
      slug: 'test-invalid-chip',
      name: 'X',
      designer: 'nvidia',
      confidence: 'RECALLED',
      ...overrides,
    });
    const cases: [Record<string, unknown>, string[][]][] = [
      [{ designer: 'nobody' }, [['input', 'designer']]],
      [{ foundry: 'nobody' }, [['input', 'foundry']]],
      [{ derivedFrom: 'h999' }, [['input', 'derivedFrom']]],
      [{ derivedFrom: 'test-invalid-chip' }, [['input', 'derivedFrom']]],
      [
        { tdpWatts: -1, launchYear: 1800 },
        [
          ['input', 'tdpWatts'],
          ['input', 'launchYear'],
        ],
      ],
    ];
    for (const [overrides, expected] of cases) {
      const result = await refused(UPSERT_CHIP, chip(overrides));
      expect(result.__typename, JSON.stringify(overrides)).toBe('ValidationError');
      expect(paths(result)).toEqual(expected);
    }
  });

  test('refuses an announcedOn outside 1900-2199, with unknown references alongside', async ({
    refused,
  }) => {
    const result = await refused(UPSERT_CHIP, {
      slug: 'test-old-chip',
      name: 'X',
      designer: 'nobody',
      foundry: 'tsmc',
      announcedOn: '0099-01-01',
      confidence: 'RECALLED',
    });
    expect(result.fieldErrors).toEqual([
      {
        path: ['input', 'announcedOn'],
        message: 'Must be between 1900-01-01 and 2199-12-31 (got 0099-01-01).',
      },
      { path: ['input', 'designer'], message: 'No company "nobody".' },
    ]);
  });

  test('refuses a derivedFrom that would make a derivation cycle, changing nothing', async ({
    gateway,
    mutate,
    refused,
  }) => {
    const upsert = (slug: string, derivedFrom: string | null) =>
      mutate(UPSERT_CHIP, {
        slug,
        name: slug,
        designer: 'nvidia',
        derivedFrom,
        confidence: 'RECALLED',
      });
    await upsert('cycle-a', null);
    await upsert('cycle-b', 'cycle-a');
    await upsert('cycle-c', 'cycle-b');
    const parentOf = async (slug: string) =>
      (
        await queryRows<{ parent: string | null }>(
          gateway.database.db,
          sql`select p.slug as parent from chips c left join chips p on p.id = c.derived_from_id
               where c.slug = ${slug}`,
        )
      )[0]?.parent;
    for (const [slug, parent, line] of [
      ['cycle-a', 'cycle-c', 'cycle-a ← cycle-c ← cycle-b ← cycle-a'],
      ['cycle-a', 'cycle-b', 'cycle-a ← cycle-b ← cycle-a'],
      ['cycle-b', 'cycle-c', 'cycle-b ← cycle-c ← cycle-b'],
    ]) {
      const before = await parentOf(slug as string);
      const result = await refused(UPSERT_CHIP, {
        slug,
        name: 'renamed',
        designer: 'nvidia',
        derivedFrom: parent,
        confidence: 'RECALLED',
      });
      expect(result.fieldErrors).toEqual([
        {
          path: ['input', 'derivedFrom'],
          message: `"${slug}" cannot be derived from "${parent}": that would make a derivation cycle (${line}).`,
        },
      ]);
      expect(await parentOf(slug as string)).toBe(before);
    }
    // Re-stating an existing line is no cycle, and the chain still reads to its end.
    const restated = await upsert('cycle-c', 'cycle-b');
    expect(restated.chip.derivedFrom).toEqual({ slug: 'cycle-b' });
    const { data } = await gateway.execute(
      '{ chip(slug: "cycle-c") { derivedFrom { derivedFrom { slug derivedFrom { slug } } } } }',
    );
    expect(data).toEqual({
      chip: { derivedFrom: { derivedFrom: { slug: 'cycle-a', derivedFrom: null } } },
    });
  });
});
