import { rowCounts } from './helpers/keys.js';
import {
  CREATE,
  decision,
  describe,
  expect,
  nextSerial,
  paths,
  test,
} from './helpers/mutations.js';

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
          slug: "literal-url-${nextSerial()}", title: "T", jurisdiction: "US", destinations: ["CN"],
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
