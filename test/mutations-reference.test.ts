/**
 * recordDemandSignal, upsertCompany and upsertChip against a real database: success payloads,
 * a typed error for each rule with nothing written (row counts), created vs updated.
 */
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client.js';
import { rowCounts } from './helpers/keys.js';
import {
  describe,
  expect,
  nextSerial,
  paths,
  RECORD,
  test,
  UPSERT_CHIP,
  UPSERT_COMPANY,
} from './helpers/mutations.js';

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
      slug: `ds-test-${nextSerial()}`,
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
      const result = await refused(RECORD, {
        ...base,
        slug: `ds-date-${nextSerial()}`,
        observedOn,
      });
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
